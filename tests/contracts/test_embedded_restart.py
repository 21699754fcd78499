"""The embedded chain survives a restart: its journal is replayed into a fresh eth-tester."""

from __future__ import annotations

import json
import subprocess
import sys

from contracts.embedded import journal_path
from contracts.ledger import Ledger
from contracts.state import chain_dir
from engine.ledger import Status, StatusReport
from tests.contracts.conftest import ROOT, small_site


def _restart(ledger: Ledger, state_dir) -> Ledger:
    ledger.close()  # as when the process ends: the next connect replays the journal
    return Ledger.connect("", state_dir=state_dir)


def test_hashes_and_statuses_shown_before_a_restart_stay_readable(tmp_path):
    first = Ledger.connect("", state_dir=tmp_path)
    assert first.mode == "embedded" and first.deployed_now
    first.sync_site(small_site())
    rc = first.post_status(StatusReport("CP-1", Status.CHARGING, 3.3, 1.25))
    write = first.sign_statuses([StatusReport("CP-2", Status.PREPARING, 0, 0)])
    assert first.settle(write).state == "mined"
    before = (first.get_status("CP-1"), first.read_registry(), first.status_history(), first.head())

    again = _restart(first, tmp_path)
    assert not again.deployed_now and again.chain.node is not first.chain.node
    assert again.chain.node.replayed == before[3]  # one transaction per block
    assert (again.registry_address, again.board_address) == (first.registry_address, first.board_address)
    assert (again.get_status("CP-1"), again.read_registry(), again.status_history(), again.head()) == before
    receipt = again.chain.w3.eth.get_transaction_receipt(rc.tx_hash)
    assert receipt["blockNumber"] == rc.block_number and receipt["gasUsed"] == rc.gas_used
    assert again.registration("CP-3").tx_hash == first.registration("CP-3").tx_hash
    assert again.settle(write).state == "mined"  # the outbox's write is found, not sent again
    assert again.sync_site(small_site()) == {}
    again.post_status(StatusReport("CP-1", Status.FINISHING, 0, 2.5))  # the nonce goes on
    assert [h.energy_kwh for h in again.status_history("CP-1")] == [1.25, 2.5]


def test_a_restart_in_a_new_process_reads_what_the_last_one_wrote(tmp_path):
    ledger = Ledger.connect("", state_dir=tmp_path)
    ledger.sync_site(small_site())
    rc = ledger.post_status(StatusReport("CP-2", Status.CHARGING, 2.0, 0.75))
    ledger.close()
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT)!r})\n"
        "from contracts.ledger import Ledger\n"
        f"lg = Ledger.connect('', state_dir={str(tmp_path)!r})\n"
        "s = lg.get_status('CP-2')\n"
        "print(lg.deployed_now, s.power_kw, s.energy_kwh, len(lg.status_history()),"
        f" lg.chain.w3.eth.get_transaction({rc.tx_hash!r})['blockNumber'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "2.0", "0.75", "1", str(rc.block_number)]


def test_a_torn_last_line_is_cut_and_the_rest_replays(tmp_path):
    ledger = Ledger.connect("", state_dir=tmp_path)
    ledger.sync_site(small_site())
    ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.5))
    head = ledger.head()
    path = journal_path(chain_dir(tmp_path))
    with open(path, "ab") as fh:
        fh.write(b'{"tx": "0x12", "raw": "0x02f8')  # a crash in the middle of an append
    again = _restart(ledger, tmp_path)
    assert again.head() == head and again.get_status("CP-1").energy_kwh == 0.5
    assert path.read_bytes().endswith(b"\n")
    again.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.6))  # appends a whole line
    assert all(json.loads(line) for line in path.read_text().splitlines())
    assert _restart(again, tmp_path).get_status("CP-1").energy_kwh == 0.6


def test_a_journal_that_no_longer_replays_is_kept_aside(tmp_path):
    ledger = Ledger.connect("", state_dir=tmp_path)
    ledger.sync_site(small_site())
    ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.5))
    path = journal_path(chain_dir(tmp_path))
    lines = path.read_text().splitlines()
    entry = json.loads(lines[-1])
    entry["tx"] = "0x" + "ab" * 32  # the last transaction no longer replays to its hash
    path.write_text("\n".join(lines[:-1] + [json.dumps(entry)]) + "\n")
    again = _restart(ledger, tmp_path)
    node = again.chain.node
    assert node.replay_note and "did not replay" in node.replay_note
    assert again.get_status("CP-1") is None and again.get_asset("CP-1") is not None
    assert (path.parent / "chain.jsonl.broken-1").read_text().splitlines()[-1] == json.dumps(entry)
    assert len(path.read_text().splitlines()) == len(lines) - 1
    again.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.7))
    assert again.get_status("CP-1").energy_kwh == 0.7
    assert _restart(again, tmp_path).get_status("CP-1").energy_kwh == 0.7


def test_a_snapshot_shortens_the_replay_and_a_bad_one_is_ignored(tmp_path, monkeypatch):
    import contracts.embedded as embedded

    monkeypatch.setattr(embedded, "SNAPSHOT_EVERY", 5)
    ledger = Ledger.connect("", state_dir=tmp_path)
    ledger.sync_site(small_site())  # 2 deployments + 8 registrations
    for i in range(3):
        ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, i))
    expected = (ledger.read_registry(), ledger.status_history(), ledger.get_statuses(["CP-1", "CP-2"]), ledger.head())
    assert expected[3] == 13

    again = _restart(ledger, tmp_path)
    node = again.chain.node
    assert (node.from_snapshot, node.replayed) == (10, 13)  # 3 replayed one by one
    assert (again.read_registry(), again.status_history(), again.get_statuses(["CP-1", "CP-2"]), again.head()) == expected

    snapshot = journal_path(chain_dir(tmp_path)).with_name("snapshot.bin")
    blob = bytearray(snapshot.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    snapshot.write_bytes(bytes(blob))
    third = _restart(again, tmp_path)
    assert (third.chain.node.from_snapshot, third.chain.node.replayed) == (0, 13)  # checksum: replayed in full
    assert (third.read_registry(), third.status_history(), third.get_statuses(["CP-1", "CP-2"]), third.head()) == expected
    third.post_status(StatusReport("CP-2", Status.CHARGING, 2.0, 0))
    assert _restart(third, tmp_path).get_status("CP-2").power_kw == 2.0


_WRITER = """
import sys
sys.path.insert(0, {root!r})
from contracts.ledger import Ledger
from engine.ledger import Status, StatusReport
ledger = Ledger.connect("", state_dir={state!r})
ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.5))
print("writing", flush=True)
sys.stdin.readline()
ledger.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.6))
print("done", flush=True)
"""


def test_one_process_writes_a_state_folder_s_embedded_chain_another_reads_then_takes_over(tmp_path):
    from contracts.signer import WriterBusy

    ledger = Ledger.connect("", state_dir=tmp_path)
    ledger.sync_site(small_site())
    ledger.close()
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER.format(root=str(ROOT), state=str(tmp_path))],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "writing"
        reader = Ledger.connect("", state_dir=tmp_path)  # replays what the writer wrote so far
        assert reader.get_status("CP-1").energy_kwh == 0.5
        try:
            reader.post_status(StatusReport("CP-2", Status.CHARGING, 1.0, 0))
        except WriterBusy as exc:
            assert f"pid {child.pid}" in str(exc)
        else:
            raise AssertionError("a second writer on the same embedded chain must be refused")
        out, _ = child.communicate("\n", timeout=120)
        assert out.split() == ["done"]
    finally:
        if child.poll() is None:
            child.kill()
    reader.post_status(StatusReport("CP-2", Status.CHARGING, 2.0, 0))  # takes over: replays the writer's last post first
    assert reader.get_status("CP-1").energy_kwh == 0.6 and reader.get_status("CP-2").power_kw == 2.0
    assert [h.energy_kwh for h in _restart(reader, tmp_path).status_history("CP-1")] == [0.5, 0.6]


def test_a_closed_embedded_connection_no_longer_writes(tmp_path):
    from engine.ledger import LedgerError

    old = Ledger.connect("", state_dir=tmp_path)
    old.sync_site(small_site())
    new = _restart(old, tmp_path)
    new.post_status(StatusReport("CP-1", Status.CHARGING, 1.0, 0.5))
    try:
        old.post_status(StatusReport("CP-2", Status.CHARGING, 1.0, 0.5))  # would fork the journal
    except LedgerError as exc:
        assert "closed" in str(exc)
    else:
        raise AssertionError("a closed embedded connection must refuse writes")
    again = _restart(new, tmp_path)
    assert again.get_status("CP-1").energy_kwh == 0.5 and again.get_status("CP-2") is None
