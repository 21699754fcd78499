# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title SC2 Status Board
@custom:contract-name status_board
@license MIT
@notice Live status of the assets recorded in the SC1 asset registry: each asset's
        operator posts its OCPP 1.6 status, power [W] and energy [Wh]; the block
        timestamp is recorded with it.
        Charge point: power drawn now / energy delivered in the current session.
        PV inverter: output now / energy produced today. Battery: power (+ charging,
        - discharging) / energy available. Other load: power / 0.
@dev One storage word per asset (status, biased power, energy, block timestamp; layout
     in `layout.vy`). Authorisation and bounds come from ONE static call to the registry
     (`IAssetRegistry`, `interfaces/IAssetRegistry.vyi`) per transaction (`status_auth` /
     `status_auth_batch`), which returns the registry's pause flag and each asset's
     packed hot word (operator, kind, active, rated W) plus the capacity [Wh] of batteries.
"""


import layout
from interfaces import IAssetRegistry


MAX_BATCH: public(constant(uint256)) = 64
MAX_PAGE: public(constant(uint256)) = 256

_STATUS_MAX: constant(uint8) = 8
_KIND_CHARGE_POINT: constant(uint8) = 1
_KIND_BATTERY: constant(uint8) = 3
# Statuses a PV inverter, battery or load may report: 0, 2, 7, 8 as a bit set.
_NON_CP_STATUSES: constant(uint256) = (1 << 0) | (1 << 2) | (1 << 7) | (1 << 8)


struct StatusInfo:
    status: uint8
    power_w: int32
    energy_wh: uint64
    updated_at: uint256


# @dev The SC1 asset registry this board trusts for operators and ratings.
registry: public(immutable(address))

# @dev Packed status word of every asset (see the module docstring).
_status: HashMap[bytes32, uint256]


event StatusUpdated:
    asset_id: indexed(bytes32)
    status: uint8
    power_w: int32
    energy_wh: uint64
    timestamp: uint256


@deploy
@payable
def __init__(registry_: address):
    """
    @dev Binds the board to its registry for good.
    @param registry_ Address of the SC1 asset registry.
    """
    assert registry_.is_contract, "board: registry is not a contract"
    registry = registry_


@external
def update_status(asset_id: bytes32, status: uint8, power_w: int32, energy_wh: uint64):
    """
    @notice Post an asset's live status; only the asset's operator.
    @param asset_id keccak256 of the asset's human id.
    @param status OCPP 1.6 status 0..8 (PV, battery, load: 0, 2, 7 or 8).
    @param power_w Power now [W]; negative only for a discharging battery.
    @param energy_wh Energy [Wh] (see the module docstring for its meaning per kind).
    """
    paused: bool = False
    hot: uint256 = 0
    capacity: uint64 = 0
    paused, hot, capacity = staticcall IAssetRegistry(registry).status_auth(asset_id)
    assert not paused, "board: registry paused"
    self._check(hot, capacity, status, power_w, energy_wh)
    self._store(asset_id, status, power_w, energy_wh)


@external
def update_batch(
    asset_ids: DynArray[bytes32, MAX_BATCH],
    statuses: DynArray[uint8, MAX_BATCH],
    powers_w: DynArray[int32, MAX_BATCH],
    energies_wh: DynArray[uint64, MAX_BATCH],
):
    """
    @notice Post up to 64 statuses at once; the caller must operate every asset.
    @param asset_ids keccak256 of the assets' human ids.
    @param statuses OCPP 1.6 statuses, one per asset.
    @param powers_w Power now [W], one per asset.
    @param energies_wh Energy [Wh], one per asset.
    """
    n: uint256 = len(asset_ids)
    assert len(statuses) == n and len(powers_w) == n and len(energies_wh) == n, "board: batch lengths differ"
    paused: bool = False
    hots: DynArray[uint256, MAX_BATCH] = []
    caps: DynArray[uint64, MAX_BATCH] = []
    paused, hots, caps = staticcall IAssetRegistry(registry).status_auth_batch(asset_ids)
    assert not paused, "board: registry paused"
    for i: uint256 in range(n, bound=MAX_BATCH):
        self._check(hots[i], caps[i], statuses[i], powers_w[i], energies_wh[i])
        self._store(asset_ids[i], statuses[i], powers_w[i], energies_wh[i])


@view
@external
def get_status(asset_id: bytes32) -> StatusInfo:
    """
    @notice An asset's last posted status; all zero if it never posted one.
    @param asset_id keccak256 of the asset's human id.
    @return status, power [W], energy [Wh] and block timestamp of the update [s].
    """
    return self._status_info(asset_id)


@view
@external
def get_statuses(asset_ids: DynArray[bytes32, MAX_PAGE]) -> DynArray[StatusInfo, MAX_PAGE]:
    """
    @notice `get_status` for up to 256 ids in one call.
    @param asset_ids keccak256 of the assets' human ids.
    @return The statuses, in the order of `asset_ids`.
    """
    out: DynArray[StatusInfo, MAX_PAGE] = []
    for asset_id: bytes32 in asset_ids:
        out.append(self._status_info(asset_id))
    return out


@view
@external
def status_word(asset_id: bytes32) -> uint256:
    """
    @notice The packed status word of an asset (0 if none), see the module docstring.
    @param asset_id keccak256 of the asset's human id.
    @return status | power + 2**31 << 8 | energy << 40 | timestamp << 104.
    """
    return self._status[asset_id]


@internal
@view
def _check(hot: uint256, capacity_wh: uint64, status: uint8, power_w: int32, energy_wh: uint64):
    """
    @dev Reverts unless `msg.sender` may post this status for the asset `hot` describes.
    """
    assert hot != 0, "board: unknown asset"
    assert (hot >> layout.SHIFT_ACTIVE) & layout.MASK_8 != 0, "board: asset inactive"
    assert msg.sender == convert(hot & layout.MASK_160, address), "board: caller is not the operator"
    assert status <= _STATUS_MAX, "board: status > 8"
    kind: uint8 = convert((hot >> layout.SHIFT_KIND) & layout.MASK_8, uint8)
    if kind != _KIND_CHARGE_POINT:
        assert (_NON_CP_STATUSES >> convert(status, uint256)) & 1 != 0, "board: status not allowed for this kind"
    rated: int256 = convert((hot >> layout.SHIFT_RATED) & layout.MASK_32, int256)
    power: int256 = convert(power_w, int256)
    if power < 0:
        assert kind == _KIND_BATTERY, "board: negative power"
        assert -power <= rated, "board: power exceeds rating"
    else:
        assert power <= rated, "board: power exceeds rating"
    if kind == _KIND_BATTERY:
        assert energy_wh <= capacity_wh, "board: energy exceeds capacity"


@internal
def _store(asset_id: bytes32, status: uint8, power_w: int32, energy_wh: uint64):
    """
    @dev Packs and stores one status word and logs it.
    """
    # the power biased inline (layout.bias32 as an internal call costs ~50 gas per status)
    self._status[asset_id] = (
        convert(status, uint256)
        | (convert(convert(power_w, int256) + layout.BIAS, uint256) << layout.SHIFT_POWER)
        | (convert(energy_wh, uint256) << layout.SHIFT_ENERGY)
        | ((block.timestamp & layout.MASK_64) << layout.SHIFT_TIME)
    )
    log StatusUpdated(asset_id=asset_id, status=status, power_w=power_w, energy_wh=energy_wh, timestamp=block.timestamp)


@internal
@view
def _status_info(asset_id: bytes32) -> StatusInfo:
    """
    @dev Decodes one status word; all zero if the asset never posted.
    """
    word: uint256 = self._status[asset_id]
    if word == 0:
        return empty(StatusInfo)
    return StatusInfo(
        status=convert(word & layout.MASK_8, uint8),
        power_w=layout.unbias32(word >> layout.SHIFT_POWER),
        energy_wh=convert((word >> layout.SHIFT_ENERGY) & layout.MASK_64, uint64),
        updated_at=(word >> layout.SHIFT_TIME) & layout.MASK_64,
    )
