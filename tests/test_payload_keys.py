"""The keys (issue 15): the payload codec and its key ring, the Web UI's codec endpoint (programme
administrators only), and no default secret key outside the development stack."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from temporalio.api.common.v1 import Payload

from api.app import create_app
from domain.payload_keys import KeyRing, KeyRingError, new_key_spec
from domain.settings import DEFAULT_SECRET_KEY, Settings, SettingsError, check_keys
from services.payload_codec import ENCODING, KEY_ID, EncryptionCodec
from services.temporal import data_converter
from tests.conftest import eventually, login
from worker.dev import dev_environment, dev_keys
from worker.devserver import free_port, start_dev_server, wait_for_port

ROOT = Path(__file__).parent.parent
LONG_KEY = "k" * 40


def as_json(payload: Payload) -> dict[str, object]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in payload.metadata.items()},
        "data": base64.b64encode(payload.data).decode(),
    }


def from_json(item: dict[str, object]) -> Payload:
    metadata = {str(k): base64.b64decode(str(v)) for k, v in dict(item["metadata"]).items()}  # type: ignore[call-overload]
    return Payload(metadata=metadata, data=base64.b64decode(str(item["data"])))


# --- the key ring and its rotation ----------------------------------------------------------------


async def test_a_rotated_key_ring_still_opens_what_the_old_key_sealed():
    old, new = new_key_spec("2026-a"), new_key_spec("2026-b")
    before = data_converter(Settings(payload_keys=old))
    [sealed] = await before.encode(["Ada Lovelace, 1815-12-10"])
    assert sealed.metadata["encoding"] == ENCODING and sealed.metadata[KEY_ID] == b"2026-a"
    assert b"Lovelace" not in sealed.SerializeToString()

    rotated = data_converter(Settings(payload_keys=f"{new},{old}"))  # the new key first: it seals
    assert await rotated.decode([sealed], [str]) == ["Ada Lovelace, 1815-12-10"]
    [resealed] = await rotated.encode(["Ada Lovelace, 1815-12-10"])
    assert resealed.metadata[KEY_ID] == b"2026-b"

    # Once the old key is dropped, what it sealed no longer opens, and the error says which key.
    with pytest.raises(KeyRingError, match="2026-a"):
        await EncryptionCodec(KeyRing.parse(new)).decode([sealed])
    # A payload written before encryption (the recorded histories) passes as it is.
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"as it was"')
    assert await rotated.decode([plain], [str]) == ["as it was"]


async def test_a_payload_moved_or_altered_does_not_open():
    codec = EncryptionCodec(KeyRing.parse(f"{new_key_spec('a')},{new_key_spec('b')}"))
    [sealed] = await codec.encode([Payload(metadata={"encoding": b"json/plain"}, data=b'"x"')])
    altered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + bytes([sealed.data[-1] ^ 1]))
    moved = Payload(metadata={**sealed.metadata, KEY_ID: b"b"}, data=sealed.data)
    for bad in (altered, moved):
        with pytest.raises(KeyRingError):
            await codec.decode([bad])


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("k1", "id:base64key"),
        ("k1:not base64!", "not valid base64"),
        ("k1:" + base64.b64encode(b"short").decode(), "32 bytes"),
        (new_key_spec("k1") + "," + new_key_spec("k1"), "twice"),
    ],
)
def test_a_bad_payload_key_setting_is_refused_naming_it(monkeypatch, spec, why):
    monkeypatch.setenv("CVMS_PAYLOAD_KEYS", spec)
    from domain.settings import load_settings

    with pytest.raises(SettingsError, match="CVMS_PAYLOAD_KEYS") as refused:
        load_settings()
    assert why in str(refused.value)


# --- no default secret outside the development stack ----------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({}, "CVMS_SECRET_KEY is the known default"),
        ({"secret_key": "sixteen-chars-ok-but-short"}, "CVMS_SECRET_KEY is shorter than 32"),
        ({"secret_key": LONG_KEY}, "CVMS_PAYLOAD_KEYS is missing"),
    ],
)
def test_the_api_does_not_start_outside_development_with_a_weak_key(overrides, named):
    weak = Settings(dev_stack=False, **overrides)
    with pytest.raises(SettingsError, match=named):
        create_app(weak)
    good = Settings(dev_stack=False, secret_key=LONG_KEY, payload_keys=new_key_spec("p1"))
    assert check_keys(good) is good
    assert check_keys(Settings(dev_stack=True)).secret_key == DEFAULT_SECRET_KEY  # make dev may


@pytest.mark.parametrize("command", ["api", "worker"])
def test_cvms_api_and_worker_refuse_to_start_with_the_default_key(tmp_path, command):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CVMS_")}
    env["CVMS_STATE_DIR"] = str(tmp_path)
    started = subprocess.run(
        [sys.executable, "-m", "worker.cli", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode != 0
    assert "CVMS_SECRET_KEY" in started.stderr, started.stderr


def test_make_dev_makes_random_keys_once_and_keeps_them(tmp_path, monkeypatch):
    monkeypatch.delenv("CVMS_SECRET_KEY", raising=False)
    monkeypatch.delenv("CVMS_PAYLOAD_KEYS", raising=False)
    first = dev_keys(tmp_path)
    assert len(first["CVMS_SECRET_KEY"]) >= 32 and first["CVMS_SECRET_KEY"] != DEFAULT_SECRET_KEY
    assert KeyRing.parse(first["CVMS_PAYLOAD_KEYS"])
    for name in ("secret_key", "payload_keys"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert dev_keys(tmp_path) == first  # the next start reuses them
    assert dev_keys(tmp_path / "elsewhere") != first
    monkeypatch.setenv("CVMS_SECRET_KEY", LONG_KEY)
    assert dev_keys(tmp_path)["CVMS_SECRET_KEY"] == LONG_KEY  # the environment wins
    env = dev_environment(Settings(state_dir=tmp_path, temporal_ui_port=8299))
    assert env["CVMS_PAYLOAD_KEYS"] == first["CVMS_PAYLOAD_KEYS"]
    assert "http://127.0.0.1:8299" in env["CVMS_TEMPORAL_UI_ORIGINS"].split(",")
    check_keys(
        Settings(dev_stack=False, secret_key=env["CVMS_SECRET_KEY"], payload_keys=env["CVMS_PAYLOAD_KEYS"])
    )


@pytest.mark.slow
async def test_the_dev_servers_web_ui_is_told_the_codec_endpoint(tmp_path):
    port, ui_port = free_port(), free_port()
    server = start_dev_server(
        db_file=tmp_path / "t.db",
        port=port,
        ui_port=ui_port,
        log_file=tmp_path / "t.log",
        codec_endpoint="http://127.0.0.1:8000/codec",
    )
    try:
        wait_for_port("127.0.0.1", ui_port, 60, server)

        async def codec_setting() -> dict[str, object] | None:
            async with httpx.AsyncClient() as client:
                answer = await client.get(f"http://127.0.0.1:{ui_port}/api/v1/settings")
                return answer.json().get("Codec") if answer.status_code == 200 else None

        codec = await eventually(codec_setting, timeout=30, what="the Web UI's settings")
        assert codec["Endpoint"] == "http://127.0.0.1:8000/codec"
    finally:
        server.terminate()
        server.wait(timeout=15)


# --- the Web UI's codec endpoint ------------------------------------------------------------------


async def test_the_codec_endpoint_opens_payloads_for_an_administrator_only(api, temporal):
    sealed = await temporal.data_converter.encode(["Rosa Requester <rosa@clinic.example>"])
    body = {"payloads": [as_json(p) for p in sealed]}

    assert (await api.post("/codec/decode", json=body)).status_code == 401
    for role in ("manager", "provider", "readonly"):
        refused = await api.post("/codec/decode", json=body, headers=await login(api, role))
        assert refused.status_code == 403 and refused.json()["code"] == "admin_only", role
        assert "Rosa" not in refused.text

    admin = await login(api, "agent")
    opened = await api.post("/codec/decode", json=body, headers=admin)
    assert opened.status_code == 200, opened.text
    [item] = opened.json()["payloads"]
    assert json.loads(base64.b64decode(item["data"])) == "Rosa Requester <rosa@clinic.example>"

    # encode: what the UI sends to a workflow, sealed with the current key
    resealed = await api.post("/codec/encode", json=opened.json(), headers=admin)
    assert resealed.status_code == 200
    [again] = resealed.json()["payloads"]
    assert base64.b64decode(again["metadata"]["encoding"]) == ENCODING
    assert await temporal.data_converter.decode([from_json(again)], [str]) == [
        "Rosa Requester <rosa@clinic.example>"
    ]

    bad = await api.post("/codec/decode", json={"payloads": [{"data": "!!"}]}, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "bad_payload"
    foreign = (await data_converter(Settings(payload_keys=new_key_spec("elsewhere"))).encode(["x"]))[0]
    unknown = await api.post("/codec/decode", json={"payloads": [as_json(foreign)]}, headers=admin)
    assert unknown.status_code == 422 and unknown.json()["code"] == "undecryptable_payload"
    assert "elsewhere" in unknown.json()["detail"]


async def test_the_codec_endpoint_answers_the_web_uis_origin_only(api, settings):
    ui = settings.temporal_ui_origin_list[0]
    preflight = {"Origin": ui, "Access-Control-Request-Method": "POST"}
    allowed = await api.options("/codec/decode", headers=preflight)
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == ui
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "X-Namespace" in allowed.headers["access-control-allow-headers"]

    other = await api.options("/codec/decode", headers={**preflight, "Origin": "http://evil.test"})
    assert "access-control-allow-origin" not in other.headers
    elsewhere = await api.options("/recipients", headers=preflight)  # nothing else is opened to the UI
    assert "access-control-allow-origin" not in elsewhere.headers

    # The UI sends the administrator's session cookie (include credentials).
    await login(api, "agent")
    response = await api.post("/auth/login", json={"login_name": "agent", "password": "cvms-demo-2026"})
    assert response.status_code == 200
    decoded = await api.post("/codec/decode", json={"payloads": []}, headers={"Origin": ui})
    api.cookies.clear()
    assert decoded.status_code == 200, decoded.text
    assert decoded.headers["access-control-allow-origin"] == ui
