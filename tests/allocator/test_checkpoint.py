"""The memory_manager_state file against the real kubelet's files (kubelet-examples/checkpoints/)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from allocator import checkpoint as cpmod
from allocator.checkpoint import (
    CORRUPT_CHECKPOINT,
    CheckpointError,
    checkpoint_to_assignments,
    checkpoint_to_dict,
    checkpoint_to_numa_groups,
    checkpoint_to_state,
    compute_checksum,
    decode_checkpoint,
    encode_checkpoint,
    fnv1a_32,
    for_hash,
    machine_state_from_dicts,
    marshal_checkpoint,
    restore_checkpoint,
    restore_error,
    unmarshal_checkpoint,
)
from allocator.checkpoint_cli import main as cli_main

DATA = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
CHECKPOINTS = DATA / "checkpoints"
INDEX = json.loads((CHECKPOINTS / "index.json").read_text())
RECORDS = {r["name"]: r for r in INDEX}
NAMES = sorted(RECORDS)


def _state_bytes(name: str) -> bytes:
    return (CHECKPOINTS / RECORDS[name]["file"]).read_bytes()


def _forhash_bytes(name: str) -> bytes:
    return (CHECKPOINTS / RECORDS[name]["forhash_file"]).read_bytes()


def _vector_step_expect(name: str) -> dict:
    """The source vector's record for the state in a checkpoint file (initial_state for -init files)."""
    record = RECORDS[name]
    vector = json.loads((DATA / "vectors" / f"{record['source_vector']}.json").read_text())
    if record["source_step"] == -1:
        return {"initial_state": vector["initial_state"]}
    return vector["steps"][record["source_step"]]["expect"]


def test_every_indexed_file_is_present() -> None:
    assert len(NAMES) == len(list(CHECKPOINTS.glob("*.state"))) > 0


# -- checksum ---------------------------------------------------------------------------------------------


def test_fnv1a_known_values() -> None:
    # FNV-1a 32 reference values (offset basis for the empty input).
    assert fnv1a_32(b"") == 0x811C9DC5
    assert fnv1a_32(b"a") == 0xE40C292C
    assert fnv1a_32(b"foobar") == 0xBF9CF968


def test_first_start_placeholder_checksum() -> None:
    # restoreState with no file writes this exact document before validateState fills the machine state.
    assert marshal_checkpoint(cpmod.Checkpoint(policy_name="Static")) == (
        '{"policyName":"Static","machineState":{},"checksum":3940083781}'
    )


@pytest.mark.parametrize("name", NAMES)
def test_checksum_of_forhash_text(name: str) -> None:
    assert fnv1a_32(_forhash_bytes(name)) == RECORDS[name]["checksum"]


@pytest.mark.parametrize("name", NAMES)
def test_spew_dump_equals_forhash_text(name: str) -> None:
    cp = decode_checkpoint(_state_bytes(name))
    assert for_hash(cp).encode() == _forhash_bytes(name)
    assert compute_checksum(cp) == RECORDS[name]["checksum"]
    assert compute_checksum(cp, "MemoryManagerCheckpointV1") == RECORDS[name]["checksum_v1_type_name"]


# -- decode / encode ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_reencode_is_byte_identical(name: str) -> None:
    raw = _state_bytes(name)
    assert marshal_checkpoint(decode_checkpoint(raw)).encode() == raw


@pytest.mark.parametrize("name", NAMES)
def test_decode_to_engine_dicts_and_back(name: str) -> None:
    raw = _state_bytes(name)
    cp = decode_checkpoint(raw)
    state, groups = checkpoint_to_state(cp), checkpoint_to_numa_groups(cp)
    assignments = checkpoint_to_assignments(cp)
    rebuilt = encode_checkpoint(cp.policy_name, _camel(machine_state_from_dicts(state, groups)), assignments)
    assert rebuilt.encode() == raw


@pytest.mark.parametrize("name", NAMES)
def test_decoded_state_matches_source_vector(name: str) -> None:
    cp = decode_checkpoint(_state_bytes(name))
    expect = _vector_step_expect(name)
    if "initial_state" in expect:
        assert checkpoint_to_state(cp) == expect["initial_state"]
        assert not cp.entries
        return
    assert checkpoint_to_dict(cp) == expect["checkpoint"]
    assert checkpoint_to_state(cp) == expect["state_after"]
    assert checkpoint_to_numa_groups(cp) == expect["numa_groups_after"]


def _camel(machine: dict) -> dict:
    """A NUMANodeMap as the vectors' camelCase checkpoint dict (what encode_checkpoint takes)."""
    return {
        str(nid): {
            "numberOfAssignments": node.number_of_assignments,
            "memoryMap": {
                res: {
                    "total": t.total,
                    "systemReserved": t.system_reserved,
                    "allocatable": t.allocatable,
                    "reserved": t.reserved,
                    "free": t.free,
                }
                for res, t in node.memory_map.items()
            },
            "cells": node.cells,
        }
        for nid, node in machine.items()
    }


def test_encode_sorts_numa_ids_as_strings_but_hashes_them_numerically() -> None:
    machine = {
        str(i): {
            "numberOfAssignments": 0,
            "memoryMap": {"memory": {"total": 1, "allocatable": 1, "free": 1}},
            "cells": [i],
        }
        for i in (2, 10)
    }
    text = encode_checkpoint("Static", machine, {})
    assert text.index('"10":') < text.index('"2":')
    dump = for_hash(decode_checkpoint(text))
    assert "NUMANodeMap)map[2:<*>" in dump and " 10:<*>" in dump


def test_entries_omitted_when_empty_and_kept_in_block_order() -> None:
    machine = {"0": {"numberOfAssignments": 2, "memoryMap": {}, "cells": [0]}}
    assert '"entries"' not in encode_checkpoint("Static", machine, {})
    blocks = [
        {"numa_affinity": [0], "type": "memory", "size": 5},
        {"numa_affinity": [0], "type": "hugepages-1Gi", "size": 7},
    ]
    text = encode_checkpoint("Static", machine, {"pod": {"c": blocks}})
    assert text.index('"memory"') < text.index('"hugepages-1Gi"')
    assert decode_checkpoint(text).entries["pod"]["c"][1].type == "hugepages-1Gi"


def test_nil_values_render_like_go() -> None:
    text = (
        '{"policyName":"Static","machineState":{"0":{"numberOfAssignments":0,"memoryMap":null,"cells":null}},'
        '"entries":null,"checksum":0}'
    )
    cp = decode_checkpoint(text)
    assert cp.entries is None and cp.machine_state[0].cells is None
    dump = for_hash(cp)
    assert "MemoryMap:(map[v1.ResourceName]*state.MemoryTable)<nil> Cells:([]int)<nil>" in dump
    assert "Entries:(state.ContainerMemoryAssignments)<nil>" in dump
    # json.Marshal writes nil as null; entries is omitempty.
    assert marshal_checkpoint(cp).startswith(
        '{"policyName":"Static","machineState":{"0":{"numberOfAssignments":0,"memoryMap":null,"cells":null}},'
        '"checksum":'
    )


# -- what the kubelet's loader accepts and refuses --------------------------------------------------------

VALID = "cp-gen-005-s1"


def _doc(name: str = VALID) -> dict:
    return json.loads(_state_bytes(name))


def test_verification_is_over_the_decoded_struct_not_the_bytes() -> None:
    doc = _doc()
    pretty = json.dumps(doc, indent=4)
    reordered = json.dumps(dict(reversed(list(doc.items()))))
    extra = json.dumps({**doc, "futureField": {"x": [1, 2]}})
    for text in (pretty, reordered, extra):
        assert marshal_checkpoint(decode_checkpoint(text)).encode() == _state_bytes(VALID)


def test_field_names_match_case_insensitively() -> None:
    doc = _doc()
    doc["PolicyName"] = doc.pop("policyName")
    assert decode_checkpoint(json.dumps(doc)).policy_name == "Static"


def test_checksum_zero_is_accepted_unchecked() -> None:
    doc = _doc()
    doc["checksum"] = 0
    doc["machineState"]["0"]["numberOfAssignments"] = 99
    assert decode_checkpoint(json.dumps(doc)).machine_state[0].number_of_assignments == 99


def test_v1_type_name_checksum_is_accepted() -> None:
    doc = _doc()
    doc["checksum"] = RECORDS[VALID]["checksum_v1_type_name"]
    decode_checkpoint(json.dumps(doc))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d.update(checksum=d["checksum"] ^ 1),
        lambda d: d.update(policyName="None"),
        lambda d: d["machineState"]["1"]["memoryMap"]["memory"].update(free=1),
        lambda d: d["entries"]["uid-p5-1"]["c0"][0].update(size=1),
    ],
    ids=["flip-checksum", "policy-edited", "free-edited", "size-edited"],
)
def test_tampered_files_are_corrupt(tamper) -> None:
    doc = _doc()
    tamper(doc)
    with pytest.raises(CheckpointError) as err:
        decode_checkpoint(json.dumps(doc))
    assert err.value.message == CORRUPT_CHECKPOINT


def test_v2_fields_alone_are_ignored() -> None:
    # podEntries is unknown to the V1 struct the kubelet decodes into (gate off): skipped, checksum intact.
    doc = _doc()
    doc["podEntries"] = {"uid": {}}
    decode_checkpoint(json.dumps(doc))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "unexpected end of JSON input"),
        ("   \n", "unexpected end of JSON input"),
        ('{"policyName":"Static","machineState":{"0":{"numberOfAss', "unexpected end of JSON input"),
        ("garbage", "invalid character 'g' looking for beginning of value"),
        ("{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
        ('{"a" 1}', "invalid character '1' after object key"),
        ('{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
        ('{"a":[1 2]}', "invalid character '2' after array element"),
        ('{"a":1}x', "invalid character 'x' after top-level value"),
        ('{"a":"\\q"}', "invalid character 'q' in string escape code"),
        ('{"a":"\t"}', "invalid character '\\t' in string literal"),
        ('{"a":nul}', "invalid character '}' in literal null (expecting 'l')"),
        ('{"a":tr', "invalid character ' ' in literal true (expecting 'u')"),
        ('{"a":-}', "invalid character '}' in numeric literal"),
        ('{"a":1.}', "invalid character '}' after decimal point in numeric literal"),
        ('{"a":1e}', "invalid character '}' in exponent of numeric literal"),
        ('{"a":"\\u12g"}', "invalid character 'g' in \\u hexadecimal character escape"),
        ("[]", "json: cannot unmarshal array into Go value of type state.MemoryManagerCheckpointV1"),
        (
            '{"policyName":1}',
            "json: cannot unmarshal number into Go struct field MemoryManagerCheckpointV1.policyName "
            "of type string",
        ),
        (
            '{"machineState":{"x":{}}}',
            "json: cannot unmarshal number x into Go struct field MemoryManagerCheckpointV1.machineState "
            "of type int",
        ),
        (
            '{"machineState":{"0":{"numberOfAssignments":"1"}}}',
            "json: cannot unmarshal string into Go struct field "
            "NUMANodeState.machineState.numberOfAssignments of type int",
        ),
        (
            '{"machineState":{"0":{"memoryMap":{"memory":{"total":-1}}}}}',
            "json: cannot unmarshal number -1 into Go struct field MemoryTable.machineState.memoryMap.total "
            "of type uint64",
        ),
        (
            '{"entries":{"p":{"c":[{"size":1.5}]}}}',
            "json: cannot unmarshal number 1.5 into Go struct field Block.entries.size of type uint64",
        ),
        (
            '{"checksum":"1"}',
            "json: cannot unmarshal string into Go struct field MemoryManagerCheckpointV1.checksum "
            "of type checksum.Checksum",
        ),
    ],
)
def test_decode_errors_use_go_texts(text: str, message: str) -> None:
    with pytest.raises(CheckpointError) as err:
        unmarshal_checkpoint(text)
    assert err.value.message == message


def test_json_null_decodes_to_nothing_and_fails_on_policy() -> None:
    assert decode_checkpoint("null").policy_name == ""
    with pytest.raises(CheckpointError) as err:
        restore_checkpoint("null", "Static")
    assert err.value.message == restore_error(
        '[memorymanager] configured policy "Static" differs from state checkpoint policy ""'
    )


def test_restore_wraps_errors_like_new_checkpoint_state() -> None:
    with pytest.raises(CheckpointError) as err:
        restore_checkpoint("garbage", "Static")
    assert err.value.message == (
        "could not restore state from checkpoint: invalid character 'g' looking for beginning of value, "
        "please drain this node and delete the memory manager checkpoint file "
        '"/var/lib/kubelet/memory_manager_state" before restarting Kubelet'
    )
    assert restore_checkpoint(None, "Static") is None
    with pytest.raises(CheckpointError) as err:
        restore_checkpoint(_state_bytes(VALID), "None")
    assert 'configured policy "None" differs from state checkpoint policy "Static"' in err.value.message


def _restart_checkpoint_files() -> list[tuple[str, str, str, str]]:
    cases = []
    for path in sorted((DATA / "restart").glob("*.json")):
        doc = json.loads(path.read_text())
        policy = "Static"
        for step in doc["steps"]:
            if step["op"] != "restart":
                continue
            changes = step.get("changes", {})
            policy = changes.get("memory_manager_policy", policy)
            if "checkpoint_file" in changes:
                cases.append((path.stem, changes["checkpoint_file"], policy, step["expect"]["error"]))
    return cases


@pytest.mark.parametrize(
    ("name", "text", "policy", "error"),
    _restart_checkpoint_files(),
    ids=lambda v: v if isinstance(v, str) and v.startswith("rs-") else "",
)
def test_restart_vector_files_load_like_the_kubelet(name: str, text: str, policy: str, error: str) -> None:
    # Loader errors are the restart vectors' "could not restore ..." texts; anything else is decided later
    # (validateState) and must load here.
    if error.startswith("could not restore state from checkpoint"):
        with pytest.raises(CheckpointError) as err:
            restore_checkpoint(text, policy)
        assert err.value.message == error
    else:
        assert restore_checkpoint(text, policy) is not None


# -- command line -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_cli_verify_and_reencode(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = CHECKPOINTS / RECORDS[name]["file"]
    assert cli_main(["verify", str(src)]) == 0
    assert capsys.readouterr().out.strip() == str(RECORDS[name]["checksum"])
    out = tmp_path / "out"
    assert cli_main(["checkpoint", "reencode", str(src), "-o", str(out)]) == 0
    assert out.read_bytes() == src.read_bytes()


def test_cli_verify_reports_kubelet_text(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = _doc()
    doc["checksum"] ^= 1
    bad = tmp_path / "memory_manager_state"
    bad.write_text(json.dumps(doc))
    assert cli_main(["verify", str(bad)]) == 1
    assert capsys.readouterr().err.strip() == restore_error(CORRUPT_CHECKPOINT)
    assert cli_main(["verify", "--policy", "None", str(CHECKPOINTS / RECORDS[VALID]["file"])]) == 1
    assert 'configured policy "None"' in capsys.readouterr().err


def test_cli_reencode_stdout_as_module() -> None:
    src = CHECKPOINTS / RECORDS[VALID]["file"]
    proc = subprocess.run(
        [sys.executable, "-m", "allocator.checkpoint_cli", "reencode", str(src)],
        capture_output=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == src.read_bytes()


@pytest.mark.parametrize(
    ("depth", "error"),
    [
        pytest.param(3000, None, id="nested past Python's recursion limit decodes as Go does"),
        pytest.param(10_000, None, id="Go's maximum nesting depth is accepted"),
        pytest.param(10_001, "invalid character '[' exceeded max depth", id="one level deeper is Go's error"),
    ],
)
def test_it_scans_deeply_nested_files_without_recursion(depth: int, error: str | None) -> None:
    from allocator.checkpoint import CheckpointError, decode_checkpoint

    text = '{"policyName":"Static","x":' + "[" * (depth - 1) + "]" * (depth - 1) + ',"checksum":0}'
    if error is None:
        assert decode_checkpoint(text).policy_name == "Static"
    else:
        with pytest.raises(CheckpointError, match=re.escape(error)):
            decode_checkpoint(text)


def test_it_reports_the_kind_of_a_deeply_nested_value_where_a_map_belongs() -> None:
    from allocator.checkpoint import CheckpointError, decode_checkpoint

    text = '{"policyName":"Static","machineState":' + "[" * 3000 + "]" * 3000 + ',"checksum":0}'
    with pytest.raises(CheckpointError, match=r"cannot unmarshal array into Go struct field .*machineState"):
        decode_checkpoint(text)
