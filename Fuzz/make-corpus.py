#!/usr/bin/env python3
"""Regenerates the committed seed corpora under Fuzz/Corpus/ from the protocol vectors, the
example job files and site profiles, and a few hand-written edge cases.

Run from anywhere: python3 Fuzz/make-corpus.py. Needs `zstd` and `protoc` on PATH (the apt
packages zstd and protobuf-compiler); the fuzz runs themselves need neither. Seeds are named
after their source so that a diff shows what changed. New inputs that libFuzzer finds go to
Fuzz/.work/ (git-ignored), never here.
"""
import json
import pathlib
import re
import shutil
import subprocess
import tempfile

FUZZ = pathlib.Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "Corpus"
PROTO = ROOT / "Protocol" / "estuary.proto"

# FuzzFrameDecoder's control byte (see Sources/FuzzFrameDecoder/main.swift).
NO_ZSTD = 0x10
LIMITS = {4194304: 0x00, 65536: 0x20, 1024: 0x40, 64: 0x60}
CHUNK_1, CHUNK_5, CHUNK_13, CHUNK_VARYING = 0x00, 0x04, 0x07, 0x0F
CHUNK_WHOLE = 0x0B  # 4096-byte appends: every seed stream arrives in one piece


def frame(payload: bytes, flags: int = 0) -> bytes:
    return bytes([flags]) + len(payload).to_bytes(4, "big") + payload


def zstd(data: bytes) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "payload"
        path.write_bytes(data)
        # From a file zstd writes the content size into the frame header, as FrameEncoder does.
        subprocess.run(["zstd", "-q", "-19", "--no-check", str(path), "-o", str(path) + ".zst"], check=True)
        return (pathlib.Path(tmp) / "payload.zst").read_bytes()


def unzstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-d", "-c"], input=data, capture_output=True, check=True).stdout


def protoc_encode(text: str) -> bytes:
    return subprocess.run(
        ["protoc", f"--proto_path={PROTO.parent}", "--encode=estuary.v1.Envelope", PROTO.name],
        input=text.encode(), capture_output=True, check=True,
    ).stdout


def vectors(name: str) -> list[dict]:
    return json.loads((ROOT / "Protocol" / "vectors" / f"{name}.json").read_text())["vectors"]


def hexbytes(vector: dict) -> bytes:
    return bytes.fromhex(vector["hex"].replace(" ", ""))


def reset(target: str) -> pathlib.Path:
    directory = CORPUS / target
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def write(directory: pathlib.Path, name: str, data: bytes) -> None:
    (directory / re.sub(r"[^A-Za-z0-9._-]", "-", name)).write_bytes(data)


# Envelopes written as protobuf text, for edge cases the vectors do not cover. Each becomes an
# envelope seed and, framed, a frame seed.
EDGE_ENVELOPES = {
    "assign-extremes": """seq: 18446744073709551615 ack: 18446744073709551615
        job_assign { job_id: "j-9" attempt: 4294967295 spec {
          name: "n" tenant: "t" command: "/bin/true" command: "" env { key: "A_1" value: "x" }
          env { key: "1BAD" value: "y" } accelerator_class: "cpu-x86-64" count: 100000 tasks: 10000
          memory_mib: 18446744073709551615 walltime_seconds: 2592000 priority: -1000 } }""",
    "assign-invalid": """job_assign { job_id: "" spec { name: ".." tenant: "" accelerator_class: "Bad Class"
          count: 0 tasks: 4294967295 walltime_seconds: 4294967295 priority: -2147483648 } }""",
    "assign-no-spec": """job_assign { job_id: "j-1" attempt: 1 }""",
    "usage-extremes": """usage { records { record_id: "r-1" job_id: "j-1" accelerator_class: "nvidia-h100"
          units: 4294967295 started_at_ms: 0 ended_at_ms: 2678400000 }
          records { record_id: "r-2" job_id: "j-1" accelerator_class: "nvidia-h100" units: 1
          started_at_ms: -9223372036854775808 ended_at_ms: 9223372036854775807 }
          records { record_id: "r-3" job_id: "j-2" accelerator_class: "cpu-x86-64" units: 0
          started_at_ms: 5 ended_at_ms: 4 } }""",
    "capacity-free-above-count": """capacity { full: true pools { accelerator_class: "ascend-910b" count: 1 free: 4294967295 }
          pools { accelerator_class: "" count: 4294967295 free: 0 simulated: true } sent_at_ms: -1 }""",
    "hello-odd": """hello { protocol_versions: 0 protocol_versions: 4294967295 protocol_versions: 1
          site { id: "a/b" zones: "" } compression: "gzip" compression: "zstd" max_frame_bytes: 4294967295
          known_jobs { job_id: "j-1" state: JOB_STATE_LOST attempt: 0 } next_seq: 0 }""",
    "hello-max-frame-1": """hello { protocol_versions: 1 site { id: "s" } max_frame_bytes: 1 }""",
    "welcome-unknown-compression": """welcome { protocol_version: 2 compression: "lz4" max_frame_bytes: 0 }""",
    "update-negative": """job_update { job_id: "j-1" state: JOB_STATE_FAILED at_ms: -1 has_exit_code: true
          exit_code: -2147483648 signal: -1 message: "\\xe2\\x98\\x83" }""",
    "log-empty": """log_chunk { job_id: "j-1" stream: LOG_STREAM_STDERR offset: 18446744073709551615 data: "" }""",
    "error-unknown-code": """error { code: ERROR_CODE_HANDSHAKE_TIMEOUT message: "" fatal: true }""",
    # Known issue usage-duration-overflow (Fuzz/README.md): traps in UsageRecord(wire:siteID:).
    "regression-usage-duration-overflow": """seq: 1 usage { records { started_at_ms: -1 ended_at_ms: 9223372036854775807 } }""",
}


def frame_corpus() -> None:
    out = reset("FuzzFrameDecoder")
    valid = vectors("valid")
    for vector in valid:
        write(out, f"valid-{vector['name']}", bytes([CHUNK_WHOLE]) + hexbytes(vector))
    stream = b"".join(hexbytes(v) for v in valid)
    write(out, "stream-all-valid-varying-cuts", bytes([CHUNK_VARYING]) + stream)
    write(out, "stream-all-valid-5-byte-cuts", bytes([CHUNK_5]) + stream)
    small = b"".join(hexbytes(v) for v in valid if v["name"] in ("welcome", "pure-ack", "job-cancel"))
    write(out, "stream-small-1-byte-cuts", bytes([CHUNK_1]) + small)
    by_name = {v["name"]: v for v in valid}
    for name in ("job-assign", "usage-batch", "log-chunk", "job-update-failed-signal"):
        payload = hexbytes(by_name[name])[5:]
        write(out, f"zstd-{name}", bytes([CHUNK_WHOLE]) + frame(zstd(payload), flags=1))
        write(out, f"zstd-{name}-13-byte-cuts", bytes([CHUNK_13]) + frame(zstd(payload), flags=1))
    write(out, "no-zstd-hello", bytes([CHUNK_WHOLE | NO_ZSTD]) + hexbytes(by_name["hello"]))
    for name, text in EDGE_ENVELOPES.items():
        write(out, f"edge-{name}", bytes([CHUNK_WHOLE]) + frame(protoc_encode(text)))
    for vector in vectors("invalid"):
        control = CHUNK_WHOLE | LIMITS[vector["max_frame_bytes"]]
        if not vector["accept_compressed"]:
            control |= NO_ZSTD
        write(out, f"invalid-{vector['name']}", bytes([control]) + hexbytes(vector))


def envelope_corpus() -> None:
    out = reset("FuzzEnvelopeDecoder")
    for vector in vectors("valid"):
        data = hexbytes(vector)
        payload = data[5:]
        if data[0] & 1:
            payload = unzstd(payload)
        write(out, f"valid-{vector['name']}", payload)
    for vector in vectors("invalid"):
        if vector["error"]["kind"] == "malformed_envelope":
            data = hexbytes(vector)
            payload = data[5:]
            if data[0] & 1:
                payload = unzstd(payload)
            write(out, f"invalid-{vector['name']}", payload)
    for name, text in EDGE_ENVELOPES.items():
        write(out, f"edge-{name}", protoc_encode(text))
    # An unknown field (number 99, varint) after a known body: kept and re-emitted.
    write(out, "edge-unknown-field", protoc_encode('drain { reason: "maintenance" }') + bytes([0x98, 0x06, 0x2A]))
    # A non-canonical varint and a repeated oneof member: the last one wins.
    write(out, "edge-overlong-varint", bytes([0x08, 0x81, 0x80, 0x80, 0x80, 0x00]))
    write(out, "edge-oneof-twice", protoc_encode('drain { reason: "a" }') + protoc_encode('job_cancel { job_id: "j-1" }'))


# Job files and profiles written for the fuzzer: TOML features the examples do not use.
EDGE_TOML = {
    "job-minimal": 'name = "hello"\ntenant = "dev"\ncommand = ["/bin/echo", "hi"]\nwalltime = 60\n[resources]\nclass = "cpu-x86-64"\n',
    "job-inline-resources": 'name = "cfd"\ntenant = "gz"\ncommand = ["/bin/x"]\nwalltime = "12:30:00"\npriority = 10\nresources = { class = "cpu-x86-64", count = 64, tasks = 4 }\n',
    "job-slurm-days": 'name = "long"\ntenant = "t"\ncommand = ["/bin/sleep", "1"]\nwalltime = "2-03:04:05"\n[resources]\nclass = "nvidia-h100"\nmemory_mib = 1\n',
    "job-units": 'name = "u"\ntenant = "t"\ncommand = ["/bin/true"]\nwalltime = "1d2h3m4s"\n[resources]\nclass = "ascend-910b"\ncount = 100000\ntasks = 10000\n',
    "job-wrong-types": 'name = 1\ntenant = true\ncommand = "python train.py"\nwalltime = 1.5\npriority = "high"\n[resorces]\nclass = 3\n[env]\nN = 10\nL = [1]\n',
    "job-dotted-and-literal": "name = 'x'\ntenant = '''t'''\ncommand = [\"\"\"/bin/sh\"\"\", '-c', \"echo \\u00e9\\t\"]\nwalltime = 9223372036854775807\nresources.class = \"cpu-x86-64\"\nresources.count = -1\nenv.A = \"1\"\n",
    "job-array-of-tables": 'name = "a"\ntenant = "t"\ncommand = []\nwalltime = "0s"\n[[resources]]\nclass = "cpu-x86-64"\n[env]\n"quoted key" = "v"\n',
    "job-dates": 'name = 1979-05-27T07:32:00Z\ntenant = 07:32:00\ncommand = [1979-05-27]\nwalltime = 0x10\npriority = -0o17\n[resources]\nclass = "cpu-x86-64"\ncount = 1_000\nmemory_mib = 0b11\n',
    "profile-minimal": '[site]\nid = "s"\ndisplay_name = "S"\nregion = "r"\n[coordinator]\naddress = "[::1]:7401"\n[[pools]]\nclass = "cpu-x86-64"\ncount = 1\n',
    "profile-bad": '[site]\nid = ".."\ndisplay_name = ""\nregion = ""\nzones = [""]\ndriver = "slurm"\n[coordinator]\naddress = "host:99999"\ninsecure_dev = "yes"\n[agent]\ndata_dir = ""\n[[pools]]\nclass = "Bad"\ncount = 0\nsimulated = false\n[[pools]]\nclass = "Bad"\ncount = 4294967296\n[driver.process]\nmax_concurrent_jobs = 0\nkill_grace = "2h"\n[driver.slurm]\n',
    # Known issue toml-assertions (Fuzz/README.md): toml++ 3.4.0 aborts on these with its
    # assertions on (scripts/fuzz.sh --toml-asserts, and every real build of estuaryctl/agent).
    "regression-toml-table-header": "[!x]\n",
    "regression-toml-array-table-header": "[[[1]]]\n",
    "regression-toml-date-t-colon": "e=1979-05-27T:\n",
    "regression-toml-date-control": "a=1979-05-2\x10 2 ",
    "profile-durations": '[site]\nid = "s"\ndisplay_name = "S"\nregion = "r"\n[coordinator]\naddress = "h"\n[[pools]]\nclass = "cpu-arm64"\ncount = 2\nsimulated = false\n[driver.process]\nkill_grace = "500ms"\n',
}


def toml_blocks(markdown: pathlib.Path) -> list[str]:
    return re.findall(r"```toml\n(.*?)```", markdown.read_text(), flags=re.S)


def jobfile_corpus() -> None:
    out = reset("FuzzJobFile")
    for directory in ("examples", "dev"):
        for path in sorted((ROOT / "Agents" / directory).glob("*.toml")):
            write(out, f"{directory}-{path.name}", path.read_bytes())
    # The money files an admin hands estuaryctl: voucher programmes and price files.
    for path in sorted((ROOT / "Agents" / "programs").glob("*.toml")):
        write(out, f"money-{path.stem}-program.toml", path.read_bytes())
    write(out, "money-prices-example.toml", (ROOT / "Agents" / "prices.example.toml").read_bytes())
    for markdown in (ROOT / "README.md", ROOT / "docs" / "CLI.md", ROOT / "Agents" / "README.md"):
        for index, block in enumerate(toml_blocks(markdown)):
            write(out, f"doc-{markdown.parent.name if markdown.parent != ROOT else 'root'}-{markdown.stem}-{index}.toml", block.encode())
    for name, text in EDGE_TOML.items():
        write(out, f"edge-{name}.toml", text.encode())


if __name__ == "__main__":
    frame_corpus()
    envelope_corpus()
    jobfile_corpus()
    for target in sorted(CORPUS.iterdir()):
        files = list(target.iterdir())
        print(f"{target.name}: {len(files)} seeds, {sum(f.stat().st_size for f in files)} bytes")
