# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title SC1 Asset Registry
@custom:contract-name asset_registry
@license MIT
@notice Records a charge point operator's (CPO's) parking site on chain: the power
        distribution cabinets with the power threshold of each group, and the assets
        wired to them (charge points, PV inverters, stationary batteries and other
        loads) with their operator, location, rating, capacity and price.
        Units: power [W], energy [Wh], coordinates [micro-degrees], price
        [thousandths of a currency unit per kWh]. Ids are keccak256 of the human id
        (e.g. "CA-301"); the human id travels as `name` in the registration events so
        the registry can be rebuilt from logs.
@dev Vyper never packs storage, so every asset's fields are packed by hand into two
     uint256 words (a hot word with all the status board SC2 needs for auth and bounds,
     and a cold word) and every cabinet's into one: their layout is defined once, in
     `layout.vy`. The external interface (functions and events) is `interfaces/IAssetRegistry.vyi`.
     The deployer is the admin (snekmate `ownable` owner) and a registrar.
"""


from snekmate.auth import ownable
from snekmate.utils import pausable
import layout
from interfaces import IAssetRegistry

implements: IAssetRegistry

initializes: ownable
initializes: pausable

exports: (ownable.owner, ownable.transfer_ownership, pausable.paused)


# Asset kinds, numbered as in docs/contracts.md.
KIND_CHARGE_POINT: public(constant(uint8)) = 1
KIND_PV_INVERTER: public(constant(uint8)) = 2
KIND_BATTERY: public(constant(uint8)) = 3
KIND_OTHER_LOAD: public(constant(uint8)) = 4

# Largest batch the status board may ask about in one call.
MAX_BATCH: public(constant(uint256)) = 64
# Largest page of the bulk views.
MAX_PAGE: public(constant(uint256)) = 256

_MAX_LAT_E6: constant(int32) = 90_000_000
_MAX_LON_E6: constant(int32) = 180_000_000





# @dev Packed hot word of every asset (see the module docstring).
_hot: HashMap[bytes32, uint256]
# @dev Packed cold word of every asset (see the module docstring).
_cold: HashMap[bytes32, uint256]
# @dev Packed word of every cabinet (see the module docstring).
_cabinet: HashMap[bytes32, uint256]

_asset_ids: HashMap[uint256, bytes32]
_asset_count: uint256
_cabinet_ids: HashMap[uint256, bytes32]
_cabinet_count: uint256

# @dev Accounts allowed to register and edit cabinets and assets.
_registrar: HashMap[address, bool]


@deploy
@payable
def __init__():
    """
    @dev The deployer becomes the admin (owner) and a registrar.
    """
    ownable.__init__()
    pausable.__init__()
    self._registrar[msg.sender] = True
    log IAssetRegistry.RegistrarGranted(account=msg.sender)


# ---------------------------------------------------------------- registrar: cabinets


@external
def register_cabinet(cabinet_id: bytes32, name: String[64], threshold_w: uint32, lat_e6: int32, lon_e6: int32):
    """
    @notice Register a power distribution cabinet.
    @param cabinet_id keccak256 of the cabinet's human id.
    @param name The human id of the cabinet (e.g. "POD-A").
    @param threshold_w Power threshold of the cabinet's group [W].
    @param lat_e6 Latitude [micro-degrees].
    @param lon_e6 Longitude [micro-degrees].
    """
    self._check_writable_by_registrar()
    assert cabinet_id != empty(bytes32), "registry: zero id"
    assert self._cabinet[cabinet_id] == 0, "registry: duplicate cabinet id"
    assert self._hot[cabinet_id] == 0, "registry: id already used by an asset"
    self._check_location(lat_e6, lon_e6)
    index: uint256 = self._cabinet_count
    assert index <= layout.MASK_32, "registry: too many cabinets"
    self._cabinet[cabinet_id] = layout.pack_cabinet(threshold_w, lat_e6, lon_e6, index)
    self._cabinet_ids[index] = cabinet_id
    self._cabinet_count = index + 1
    log IAssetRegistry.CabinetRegistered(cabinet_id=cabinet_id, name=name, threshold_w=threshold_w, lat_e6=lat_e6, lon_e6=lon_e6)


@external
def set_threshold(cabinet_id: bytes32, threshold_w: uint32):
    """
    @notice Set the power threshold of a cabinet's group.
    @param cabinet_id keccak256 of the cabinet's human id.
    @param threshold_w New threshold [W].
    """
    self._check_writable_by_registrar()
    word: uint256 = self._cabinet[cabinet_id]
    assert word & layout.CAB_EXISTS != 0, "registry: unknown cabinet"
    self._cabinet[cabinet_id] = (word & ~layout.MASK_32) | convert(threshold_w, uint256)
    log IAssetRegistry.ThresholdChanged(cabinet_id=cabinet_id, threshold_w=threshold_w)


# ------------------------------------------------------------------ registrar: assets


@external
def register_asset(
    asset_id: bytes32,
    name: String[64],
    kind: uint8,
    cabinet_id: bytes32,
    operator: address,
    lat_e6: int32,
    lon_e6: int32,
    rated_power_w: uint32,
    capacity_wh: uint64,
    price_milli_per_kwh: uint32,
):
    """
    @notice Register an asset behind a cabinet.
    @param asset_id keccak256 of the asset's human id.
    @param name The human id of the asset (e.g. "CA-301").
    @param kind 1 charge point, 2 PV inverter, 3 battery, 4 other load.
    @param cabinet_id keccak256 of the human id of the cabinet it is wired to.
    @param operator Account allowed to post the asset's status on SC2.
    @param lat_e6 Latitude [micro-degrees].
    @param lon_e6 Longitude [micro-degrees].
    @param rated_power_w Rated power [W], > 0.
    @param capacity_wh Usable capacity [Wh]: > 0 for a battery, 0 otherwise.
    @param price_milli_per_kwh Price [thousandths per kWh]: charge points only, 0 otherwise.
    """
    self._check_writable_by_registrar()
    assert asset_id != empty(bytes32), "registry: zero id"
    assert self._hot[asset_id] == 0, "registry: duplicate asset id"
    assert self._cabinet[asset_id] == 0, "registry: id already used by a cabinet"
    assert kind >= KIND_CHARGE_POINT and kind <= KIND_OTHER_LOAD, "registry: kind not in 1..4"
    cab: uint256 = self._cabinet[cabinet_id]
    assert cab & layout.CAB_EXISTS != 0, "registry: unknown cabinet"
    assert operator != empty(address), "registry: zero operator"
    self._check_location(lat_e6, lon_e6)
    assert rated_power_w != 0, "registry: rated power is 0"
    if kind == KIND_BATTERY:
        assert capacity_wh != 0, "registry: battery capacity is 0"
    else:
        assert capacity_wh == 0, "registry: capacity only for a battery"
    if kind != KIND_CHARGE_POINT:
        assert price_milli_per_kwh == 0, "registry: price only for a charge point"

    self._hot[asset_id] = layout.pack_hot(operator, kind, True, rated_power_w, capacity_wh)
    self._cold[asset_id] = layout.pack_cold(
        lat_e6,
        lon_e6,
        (convert(price_milli_per_kwh, uint256) << layout.SHIFT_PRICE) | (convert(capacity_wh, uint256) << layout.SHIFT_CAPACITY),
        cab,
    )
    index: uint256 = self._asset_count
    self._asset_ids[index] = asset_id
    self._asset_count = index + 1
    log IAssetRegistry.AssetRegistered(
        asset_id=asset_id,
        cabinet_id=cabinet_id,
        name=name,
        kind=kind,
        operator=operator,
        lat_e6=lat_e6,
        lon_e6=lon_e6,
        rated_power_w=rated_power_w,
        capacity_wh=capacity_wh,
        price_milli_per_kwh=price_milli_per_kwh,
    )


@external
def move_asset(asset_id: bytes32, cabinet_id: bytes32, lat_e6: int32, lon_e6: int32):
    """
    @notice Re-wire an active asset to a cabinet and/or move it on the map.
    @param asset_id keccak256 of the asset's human id.
    @param cabinet_id keccak256 of the human id of its (new) cabinet.
    @param lat_e6 New latitude [micro-degrees].
    @param lon_e6 New longitude [micro-degrees].
    """
    self._check_writable_by_registrar()
    self._require_active(self._hot[asset_id])
    cab: uint256 = self._cabinet[cabinet_id]
    assert cab & layout.CAB_EXISTS != 0, "registry: unknown cabinet"
    self._check_location(lat_e6, lon_e6)
    keep: uint256 = self._cold[asset_id] & (((1 << 96) - 1) << layout.SHIFT_PRICE)  # price and capacity
    self._cold[asset_id] = layout.pack_cold(lat_e6, lon_e6, keep, cab)
    log IAssetRegistry.AssetMoved(asset_id=asset_id, cabinet_id=cabinet_id, lat_e6=lat_e6, lon_e6=lon_e6)


@external
def set_price(asset_id: bytes32, price_milli_per_kwh: uint32):
    """
    @notice Set the price a charge point bills; the registrar or the asset's operator.
    @param asset_id keccak256 of the charge point's human id.
    @param price_milli_per_kwh Price [thousandths of a currency unit per kWh].
    """
    pausable._require_not_paused()
    hot: uint256 = self._hot[asset_id]
    self._require_active(hot)
    assert layout.kind_of(hot) == KIND_CHARGE_POINT, "registry: price only for a charge point"
    assert self._registrar[msg.sender] or msg.sender == layout.operator_of(hot), (
        "registry: caller is not a registrar or the operator"
    )
    cold: uint256 = self._cold[asset_id]
    self._cold[asset_id] = (cold & ~(layout.MASK_32 << layout.SHIFT_PRICE)) | (
        convert(price_milli_per_kwh, uint256) << layout.SHIFT_PRICE
    )
    log IAssetRegistry.PriceChanged(asset_id=asset_id, price_milli_per_kwh=price_milli_per_kwh)


@external
def set_operator(asset_id: bytes32, operator: address):
    """
    @notice Hand an active asset to another operator account.
    @param asset_id keccak256 of the asset's human id.
    @param operator The new operator; not the zero address.
    """
    self._check_writable_by_registrar()
    hot: uint256 = self._hot[asset_id]
    self._require_active(hot)
    assert operator != empty(address), "registry: zero operator"
    self._hot[asset_id] = (hot & ~layout.MASK_160) | convert(convert(operator, uint160), uint256)
    log IAssetRegistry.OperatorChanged(asset_id=asset_id, operator=operator)


@external
def deactivate(asset_id: bytes32):
    """
    @notice Deactivate an asset for good; its id stays taken.
    @param asset_id keccak256 of the asset's human id.
    """
    self._check_writable_by_registrar()
    hot: uint256 = self._hot[asset_id]
    self._require_active(hot)
    self._hot[asset_id] = hot & ~(layout.MASK_8 << layout.SHIFT_ACTIVE)
    log IAssetRegistry.AssetDeactivated(asset_id=asset_id)


# ------------------------------------------------------------------------------ admin


@external
def grant_registrar(account: address):
    """
    @notice Give `account` the registrar role; admin only, allowed while paused.
    @param account The account.
    """
    ownable._check_owner()
    assert account != empty(address), "registry: zero account"
    self._registrar[account] = True
    log IAssetRegistry.RegistrarGranted(account=account)


@external
def revoke_registrar(account: address):
    """
    @notice Take the registrar role from `account`; admin only, allowed while paused.
    @param account The account.
    """
    ownable._check_owner()
    self._registrar[account] = False
    log IAssetRegistry.RegistrarRevoked(account=account)


@external
def pause():
    """
    @notice Stop every state-changing function (and SC2's updates); admin only.
    """
    ownable._check_owner()
    pausable._pause()


@external
def unpause():
    """
    @notice Lift the pause; admin only.
    """
    ownable._check_owner()
    pausable._unpause()


# ------------------------------------------------------------------------------ views


@view
@external
def get_asset(asset_id: bytes32) -> IAssetRegistry.AssetInfo:
    """
    @notice An asset's record; all zero (kind 0) for an unknown id.
    @param asset_id keccak256 of the asset's human id.
    @return The decoded record.
    """
    return self._asset_info(asset_id)


@view
@external
def get_assets(asset_ids: DynArray[bytes32, MAX_PAGE]) -> DynArray[IAssetRegistry.AssetInfo, MAX_PAGE]:
    """
    @notice `get_asset` for up to 256 ids in one call.
    @param asset_ids keccak256 of the assets' human ids.
    @return The decoded records, in the order of `asset_ids`.
    """
    out: DynArray[IAssetRegistry.AssetInfo, MAX_PAGE] = []
    for asset_id: bytes32 in asset_ids:
        out.append(self._asset_info(asset_id))
    return out


@view
@external
def get_cabinet(cabinet_id: bytes32) -> IAssetRegistry.CabinetInfo:
    """
    @notice A cabinet's record; `exists` is false (and all else 0) for an unknown id.
    @param cabinet_id keccak256 of the cabinet's human id.
    @return The decoded record.
    """
    return layout.cabinet_info(self._cabinet[cabinet_id])


@view
@external
def get_cabinets(cabinet_ids: DynArray[bytes32, MAX_PAGE]) -> DynArray[IAssetRegistry.CabinetInfo, MAX_PAGE]:
    """
    @notice `get_cabinet` for up to 256 ids in one call.
    @param cabinet_ids keccak256 of the cabinets' human ids.
    @return The decoded records, in the order of `cabinet_ids`.
    """
    out: DynArray[IAssetRegistry.CabinetInfo, MAX_PAGE] = []
    for cabinet_id: bytes32 in cabinet_ids:
        out.append(layout.cabinet_info(self._cabinet[cabinet_id]))
    return out


@view
@external
def asset_count() -> uint256:
    """
    @notice Number of assets ever registered (deactivated ones included).
    @return The count.
    """
    return self._asset_count


@view
@external
def asset_at(index: uint256) -> bytes32:
    """
    @notice The id of the `index`-th registered asset.
    @param index Position in registration order, < asset_count().
    @return The asset id.
    """
    assert index < self._asset_count, "registry: index out of range"
    return self._asset_ids[index]


@view
@external
def cabinet_count() -> uint256:
    """
    @notice Number of registered cabinets.
    @return The count.
    """
    return self._cabinet_count


@view
@external
def cabinet_at(index: uint256) -> bytes32:
    """
    @notice The id of the `index`-th registered cabinet.
    @param index Position in registration order, < cabinet_count().
    @return The cabinet id.
    """
    assert index < self._cabinet_count, "registry: index out of range"
    return self._cabinet_ids[index]


@view
@external
def asset_ids(start: uint256, count: uint256) -> DynArray[bytes32, MAX_PAGE]:
    """
    @notice A page of asset ids in registration order.
    @param start Index of the first id.
    @param count Most ids wanted (at most 256 are returned).
    @return Ids `start` .. `start + count - 1`, clipped to the registered ones.
    """
    return self._page(self._asset_count, start, count, False)


@view
@external
def cabinet_ids(start: uint256, count: uint256) -> DynArray[bytes32, MAX_PAGE]:
    """
    @notice A page of cabinet ids in registration order.
    @param start Index of the first id.
    @param count Most ids wanted (at most 256 are returned).
    @return Ids `start` .. `start + count - 1`, clipped to the registered ones.
    """
    return self._page(self._cabinet_count, start, count, True)


@view
@external
def is_registrar(account: address) -> bool:
    """
    @notice Whether `account` holds the registrar role.
    @param account The account.
    @return True for a registrar.
    """
    return self._registrar[account]


@view
@external
def hot_word(asset_id: bytes32) -> uint256:
    """
    @notice The packed hot word of an asset (0 if unknown), see the module docstring.
    @param asset_id keccak256 of the asset's human id.
    @return operator | kind << 160 | active << 168 | rated_power_w << 176 | capacity << 208.
    """
    return self._hot[asset_id]


@view
@external
def status_auth(asset_id: bytes32) -> (bool, uint256, uint64):
    """
    @notice What the status board needs to check one update, in one call.
    @param asset_id keccak256 of the asset's human id.
    @return Whether the registry is paused, the asset's hot word, and its
            capacity [Wh] (read for batteries only, 0 otherwise).
    """
    hot: uint256 = self._hot[asset_id]
    return pausable.paused, hot, self._capacity_if_battery(asset_id, hot)


@view
@external
def status_auth_batch(asset_ids: DynArray[bytes32, MAX_BATCH]) -> (bool, DynArray[uint256, MAX_BATCH], DynArray[uint64, MAX_BATCH]):
    """
    @notice `status_auth` for up to 64 assets in one call.
    @param asset_ids keccak256 of the assets' human ids.
    @return Whether the registry is paused, the hot words and the capacities [Wh]
            (batteries only, 0 otherwise), in the order of `asset_ids`.
    """
    hots: DynArray[uint256, MAX_BATCH] = []
    caps: DynArray[uint64, MAX_BATCH] = []
    for asset_id: bytes32 in asset_ids:
        hot: uint256 = self._hot[asset_id]
        hots.append(hot)
        caps.append(self._capacity_if_battery(asset_id, hot))
    return pausable.paused, hots, caps


# -------------------------------------------------------------------------- internals


@internal
def _check_writable_by_registrar():
    """
    @dev Reverts while paused or for a caller without the registrar role.
    """
    pausable._require_not_paused()
    assert self._registrar[msg.sender], "registry: caller is not a registrar"


@internal
@pure
def _check_location(lat_e6: int32, lon_e6: int32):
    """
    @dev Reverts for |lat| > 90e6 or |lon| > 180e6 micro-degrees.
    """
    assert lat_e6 >= -_MAX_LAT_E6 and lat_e6 <= _MAX_LAT_E6, "registry: latitude out of range"
    assert lon_e6 >= -_MAX_LON_E6 and lon_e6 <= _MAX_LON_E6, "registry: longitude out of range"


@internal
@pure
def _require_active(hot: uint256):
    """
    @dev Reverts for an unknown (hot word 0) or deactivated asset.
    """
    assert hot != 0, "registry: unknown asset"
    assert layout.is_active(hot), "registry: asset inactive"





@internal
@view
def _capacity_if_battery(asset_id: bytes32, hot: uint256) -> uint64:
    """
    @dev The capacity [Wh] of a battery, 0 for other kinds: from the hot word, or from
         the cold word when it does not fit the hot word's 48 bits.
    """
    # decoded inline, not with layout.kind_of: this runs on every SC2 status update (an
    # internal call costs ~50 gas more per asset)
    if convert((hot >> layout.SHIFT_KIND) & layout.MASK_8, uint8) != KIND_BATTERY:
        return 0
    small: uint256 = hot >> layout.SHIFT_HOT_CAPACITY
    if small != layout.MASK_48:
        return convert(small, uint64)
    return convert((self._cold[asset_id] >> layout.SHIFT_CAPACITY) & layout.MASK_64, uint64)


@internal
@view
def _page(total: uint256, start: uint256, count: uint256, cabinets: bool) -> DynArray[bytes32, MAX_PAGE]:
    """
    @dev Ids start .. min(start + count, start + 256, total) - 1 of one list.
    """
    out: DynArray[bytes32, MAX_PAGE] = []
    if start >= total:
        return out
    n: uint256 = min(min(count, MAX_PAGE), total - start)
    for i: uint256 in range(start, start + n, bound=MAX_PAGE):
        if cabinets:
            out.append(self._cabinet_ids[i])
        else:
            out.append(self._asset_ids[i])
    return out


@internal
@view
def _asset_info(asset_id: bytes32) -> IAssetRegistry.AssetInfo:
    """
    @dev Decodes an asset's two packed words; all zero for an unknown id.
    """
    hot: uint256 = self._hot[asset_id]
    if hot == 0:
        return empty(IAssetRegistry.AssetInfo)
    cold: uint256 = self._cold[asset_id]
    return layout.asset_info(hot, cold, self._cabinet_ids[(cold >> layout.SHIFT_CABINET) & layout.MASK_32])
