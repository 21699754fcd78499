# pragma version ~=0.4.3
"""
@title Packed storage words of SC1 and SC2
@license MIT
@notice The one definition of the words the two contracts pack by hand (Vyper never packs
        storage): their constants, and the pure functions that pack and decode SC1's words.
        `asset_registry.vy` and `status_board.vy` import this module (no state: no `uses`
        or `initializes`); the tests' Python mirror (`tests/contracts/packing.py`) reads the
        constants from this file.
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

from interfaces import IAssetRegistry

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


# ---------------------------------------------------------------------- SC1 words


@internal
@pure
def bias32(x: int32) -> uint256:
    """
    @dev A signed 32-bit value as an unsigned one: value + 2**31, in 0..2**32-1.
    """
    return convert(convert(x, int256) + BIAS, uint256)


@internal
@pure
def unbias32(field: uint256) -> int32:
    """
    @dev Inverse of `bias32` for the low 32 bits of `field`.
    """
    return convert(convert(field & MASK_32, int256) - BIAS, int32)


@internal
@pure
def pack_location(lat_e6: int32, lon_e6: int32) -> uint256:
    """
    @dev Biased latitude in bits 0..31, biased longitude in bits 32..63 (the cold word's
         place; the cabinet word holds the same 64 bits shifted by SHIFT_CAB_LAT).
    """
    return self.bias32(lat_e6) | (self.bias32(lon_e6) << SHIFT_LON)


@internal
@pure
def pack_hot(operator: address, kind: uint8, active: bool, rated_power_w: uint32, capacity_wh: uint64) -> uint256:
    """
    @dev operator | kind << 160 | active << 168 | rated_power_w << 176 | capacity << 208,
         the capacity capped at 2**48 - 1 (meaning: read it from the cold word).
    """
    word: uint256 = convert(convert(operator, uint160), uint256)
    word |= convert(kind, uint256) << SHIFT_KIND
    if active:
        word |= 1 << SHIFT_ACTIVE
    word |= convert(rated_power_w, uint256) << SHIFT_RATED
    word |= min(convert(capacity_wh, uint256), MASK_48) << SHIFT_HOT_CAPACITY
    return word


@internal
@pure
def pack_cold(lat_e6: int32, lon_e6: int32, price_and_capacity: uint256, cabinet_word: uint256) -> uint256:
    """
    @dev The cold word: location, `price_and_capacity` (already in place, bits 64..159) and
         the index of the cabinet whose word is `cabinet_word`.
    """
    return (
        self.pack_location(lat_e6, lon_e6)
        | price_and_capacity
        | (((cabinet_word >> SHIFT_CAB_INDEX) & MASK_32) << SHIFT_CABINET)
    )


@internal
@pure
def pack_cabinet(threshold_w: uint32, lat_e6: int32, lon_e6: int32, index: uint256) -> uint256:
    """
    @dev threshold | location << 32 | index << 96 | exists flag.
    """
    return (
        convert(threshold_w, uint256)
        | (self.pack_location(lat_e6, lon_e6) << SHIFT_CAB_LAT)
        | (index << SHIFT_CAB_INDEX)
        | CAB_EXISTS
    )


@internal
@pure
def kind_of(hot: uint256) -> uint8:
    """
    @dev The kind in a hot word.
    """
    return convert((hot >> SHIFT_KIND) & MASK_8, uint8)


@internal
@pure
def is_active(hot: uint256) -> bool:
    """
    @dev The active flag of a hot word.
    """
    return (hot >> SHIFT_ACTIVE) & MASK_8 != 0


@internal
@pure
def operator_of(hot: uint256) -> address:
    """
    @dev The operator in a hot word.
    """
    return convert(hot & MASK_160, address)


@internal
@pure
def asset_info(hot: uint256, cold: uint256, cabinet_id: bytes32) -> IAssetRegistry.AssetInfo:
    """
    @dev An asset's two words decoded; `cabinet_id` is the id at the cold word's cabinet index.
    """
    return IAssetRegistry.AssetInfo(
        kind=self.kind_of(hot),
        cabinet_id=cabinet_id,
        operator=self.operator_of(hot),
        lat_e6=self.unbias32(cold),
        lon_e6=self.unbias32(cold >> SHIFT_LON),
        rated_power_w=convert((hot >> SHIFT_RATED) & MASK_32, uint32),
        capacity_wh=convert((cold >> SHIFT_CAPACITY) & MASK_64, uint64),
        price_milli_per_kwh=convert((cold >> SHIFT_PRICE) & MASK_32, uint32),
        active=self.is_active(hot),
    )


@internal
@pure
def cabinet_info(word: uint256) -> IAssetRegistry.CabinetInfo:
    """
    @dev A cabinet's word decoded (`exists` false and all zero for the word 0).
    """
    if word == 0:
        return empty(IAssetRegistry.CabinetInfo)
    return IAssetRegistry.CabinetInfo(
        threshold_w=convert(word & MASK_32, uint32),
        lat_e6=self.unbias32(word >> SHIFT_CAB_LAT),
        lon_e6=self.unbias32(word >> SHIFT_CAB_LON),
        exists=True,
    )
