# pragma version ~=0.4.3
"""
@title Packed storage words of SC1 and SC2
@license MIT
@notice The one definition of the words the two contracts pack by hand (Vyper never packs
        storage). `asset_registry.vy` and `status_board.vy` import these constants; the
        tests' Python mirror (`tests/contracts/packing.py`) reads them from this file.
@dev SC1 hot word (one per asset; all SC2 needs for auth and bounds):
         bits   0..159  operator address
         bits 160..167  kind (1 charge point, 2 PV inverter, 3 battery, 4 other load)
         bits 168..175  active flag (1 active, 0 deactivated)
         bits 176..207  rated power [W]
         bits 208..255  battery capacity [Wh] when below 2**48 - 1, else 2**48 - 1
                        ("see the cold word"); 0 for other kinds
     SC1 cold word:
         bits   0..31   latitude  [micro-degrees] + 2**31 (biased)
         bits  32..63   longitude [micro-degrees] + 2**31 (biased)
         bits  64..95   price [thousandths per kWh]
         bits  96..159  capacity [Wh]
         bits 160..191  index of the cabinet in the cabinet list
     SC1 cabinet word:
         bits   0..31   threshold [W]
         bits  32..63   latitude  [micro-degrees] + 2**31 (biased)
         bits  64..95   longitude [micro-degrees] + 2**31 (biased)
         bits  96..127  index of the cabinet in the cabinet list
         bit   128      exists flag
     SC2 status word:
         bits   0..7    status (0..8)
         bits   8..39   power [W] + 2**31 (biased signed 32-bit)
         bits  40..103  energy [Wh]
         bits 104..167  block timestamp [s]
"""

# Bias of a signed 32-bit field stored unsigned.
BIAS: constant(int256) = 2**31

MASK_8: constant(uint256) = 2**8 - 1
MASK_32: constant(uint256) = 2**32 - 1
MASK_48: constant(uint256) = 2**48 - 1
MASK_64: constant(uint256) = 2**64 - 1
MASK_160: constant(uint256) = 2**160 - 1

# SC1 hot word
SHIFT_KIND: constant(uint256) = 160
SHIFT_ACTIVE: constant(uint256) = 168
SHIFT_RATED: constant(uint256) = 176
SHIFT_HOT_CAPACITY: constant(uint256) = 208

# SC1 cold word
SHIFT_LON: constant(uint256) = 32
SHIFT_PRICE: constant(uint256) = 64
SHIFT_CAPACITY: constant(uint256) = 96
SHIFT_CABINET: constant(uint256) = 160

# SC1 cabinet word
SHIFT_CAB_LAT: constant(uint256) = 32
SHIFT_CAB_LON: constant(uint256) = 64
SHIFT_CAB_INDEX: constant(uint256) = 96
CAB_EXISTS: constant(uint256) = 1 << 128

# SC2 status word
SHIFT_POWER: constant(uint256) = 8
SHIFT_ENERGY: constant(uint256) = 40
SHIFT_TIME: constant(uint256) = 104
