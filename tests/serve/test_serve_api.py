"""The HTTP API against the app (Starlette's TestClient): results, headers and every error status."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from serve_helpers import decode, multipart, png_bytes, skip_without_extra

from litesr_edge import Upscaler
from litesr_edge.server import ServeConfig

skip_without_extra()

from fastapi.testclient import TestClient  # noqa: E402

import litesr_edge.server.app as server_app  # noqa: E402
from litesr_edge.server import Service, create_app  # noqa: E402
from litesr_edge.server.body import Upload  # noqa: E402
from litesr_edge.server.gate import Cancelled, Slot  # noqa: E402
from litesr_edge.server.work import upscale_upload  # noqa: E402


def _client(**fields: object) -> tuple[Service, TestClient]:
    fields.setdefault("scale", 2)
    service = Service(ServeConfig(**fields))  # type: ignore[arg-type]
    return service, TestClient(create_app(service))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Service, TestClient]]:
    service, client = _client(max_upload_mb=1, max_pixels=200 * 200)
    with client:
        yield service, client


@pytest.fixture(scope="module")
def client(served: tuple[Service, TestClient]) -> TestClient:
    return served[1]


def _detail(reply: object, status: int) -> str:
    assert reply.status_code == status, reply.text  # type: ignore[attr-defined]
    body = reply.json()  # type: ignore[attr-defined]
    assert body["status"] == status and isinstance(body["detail"], str) and body["detail"]
    assert "Traceback" not in body["detail"]
    return str(body["detail"])


def test_multipart_upload_returns_the_exact_upscaled_image(client: TestClient) -> None:
    data = png_bytes(20, 28, seed=1)
    reply = client.post("/v1/upscale?scale=2", files={"file": ("tiny.png", data, "image/png")})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "image/png"
    reference = Upscaler(scale=2)  # the server's default is engine "auto" too
    np.testing.assert_array_equal(decode(reply.content), reference.upscale(decode(data)))
    h = reply.headers
    assert (h["x-litesr-model"], h["x-litesr-engine"], h["x-litesr-precision"]) == (
        "litesrnet_x2_d19.onnx", reference.engine, reference.precision)
    assert h["x-litesr-size"] == "56x40" and float(h["x-litesr-time-ms"]) > 0
    assert "upscale;dur=" in h["server-timing"]
    assert 'filename="tiny_x2.png"' in h["content-disposition"]


def test_raw_body_and_other_output_formats(client: TestClient) -> None:
    data = png_bytes(16, 16, seed=2)
    for fmt, media in (("png", "image/png"), ("jpeg", "image/jpeg"), ("webp", "image/webp")):
        reply = client.post(f"/v1/upscale?scale=2&format={fmt}", content=data, headers={"content-type": "image/png"})
        assert reply.status_code == 200, reply.text
        assert reply.headers["content-type"] == media
        assert decode(reply.content).shape == (32, 32, 3)


def test_scale_and_engine_are_per_request(client: TestClient) -> None:
    reply = client.post("/v1/upscale?scale=3", content=png_bytes(12, 12), headers={"content-type": "image/png"})
    assert reply.status_code == 200 and decode(reply.content).shape == (36, 36, 3)
    assert reply.headers["x-litesr-model"] == "litesrnet_x3_d19.onnx"


@pytest.mark.parametrize("body", [b"not an image at all", png_bytes(16, 16)[:-30], b"\x89PNG\r\n\x1a\n"])
def test_unreadable_or_truncated_images_are_400(client: TestClient, body: bytes) -> None:
    detail = _detail(client.post("/v1/upscale", content=body, headers={"content-type": "image/png"}), 400)
    assert "upload" in detail


def test_empty_body_is_400(client: TestClient) -> None:
    assert "no body" in _detail(client.post("/v1/upscale", content=b""), 400)


def test_a_multipart_body_cut_off_is_400(client: TestClient) -> None:
    body, ctype = multipart(png_bytes(16, 16))
    detail = _detail(client.post("/v1/upscale", content=body[:-20], headers={"content-type": ctype}), 400)
    assert "ends early" in detail


def test_an_upload_over_the_limit_is_413(client: TestClient) -> None:
    big = b"\0" * (2 * 2**20)
    detail = _detail(client.post("/v1/upscale", content=big, headers={"content-type": "image/png"}), 413)
    assert "1 MB" in detail and "--max-upload-mb" in detail


def test_an_output_over_max_pixels_is_413_before_decoding(client: TestClient) -> None:
    detail = _detail(client.post("/v1/upscale?scale=2", content=png_bytes(120, 120),
                                 headers={"content-type": "image/png"}), 413)
    assert "240x240" in detail and "40,000" in detail


@pytest.mark.parametrize("ctype", ["text/plain", "application/json", "image/svg+xml"])
def test_an_unsupported_content_type_is_415(client: TestClient, ctype: str) -> None:
    assert ctype in _detail(client.post("/v1/upscale", content=png_bytes(), headers={"content-type": ctype}), 415)


def test_a_form_file_that_is_no_image_type_is_415(client: TestClient) -> None:
    body, ctype = multipart(b"hello", "a.txt", "text/plain")
    assert "text/plain" in _detail(client.post("/v1/upscale", content=body, headers={"content-type": ctype}), 415)


@pytest.mark.parametrize(("query", "words"), [
    ("scale=x", "scale"), ("scale=5", "scale 5"), ("scale=0", "scale"), ("format=gif", "format"),
    ("engine=torch", "engine"), ("depth=7", "depth 7"), ("precision=fp64", "precision"),
])
def test_bad_parameters_are_422(client: TestClient, query: str, words: str) -> None:
    reply = client.post(f"/v1/upscale?{query}", content=png_bytes(), headers={"content-type": "image/png"})
    assert words in _detail(reply, 422)


def test_a_form_without_a_file_field_is_422(client: TestClient) -> None:
    boundary = "b0undary"
    body = f'--{boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--{boundary}--\r\n'.encode()
    detail = _detail(client.post("/v1/upscale", content=body,
                                 headers={"content-type": f"multipart/form-data; boundary={boundary}"}), 422)
    assert "'file'" in detail


def test_16_bit_input_as_jpeg_is_422_and_as_png_stays_16_bit(client: TestClient) -> None:
    data = png_bytes(8, 8, dtype=np.uint16)
    assert "16-bit" in _detail(client.post("/v1/upscale?format=jpeg", content=data,
                                           headers={"content-type": "image/png"}), 422)
    reply = client.post("/v1/upscale", content=data, headers={"content-type": "image/png"})
    assert reply.status_code == 200 and decode(reply.content).dtype == np.uint16


def test_a_full_queue_is_503_with_retry_after_and_clears(served: tuple[Service, TestClient]) -> None:
    service, client = served
    gate = service.workers.gate
    taken = 0
    while gate.try_enter():  # what concurrency + queue requests in flight would hold
        taken += 1
    try:
        assert taken == service.config.concurrency + service.config.queue
        reply = client.post("/v1/upscale", content=png_bytes(), headers={"content-type": "image/png"})
        assert "busy" in _detail(reply, 503)
        assert int(reply.headers["retry-after"]) >= 1
    finally:
        for _ in range(taken):
            gate.leave()
    reply = client.post("/v1/upscale", content=png_bytes(), headers={"content-type": "image/png"})
    assert reply.status_code == 200 and gate.inside == 0


def test_a_request_not_started_by_its_deadline_is_504_and_never_runs() -> None:
    service, client = _client(concurrency=1, queue=1, timeout_s=0.5)
    release = threading.Event()
    with client:
        # Keep the only worker busy (as a long upscale would) so that the request waits past its deadline.
        blocker = service.workers._pool.submit(release.wait, 30)
        try:
            start = time.monotonic()
            reply = client.post("/v1/upscale", content=png_bytes(), headers={"content-type": "image/png"})
            assert "timeout" in _detail(reply, 504) and time.monotonic() - start < 5
        finally:
            release.set()
        blocker.result(5)
        deadline = time.monotonic() + 5
        while service.workers.gate.inside and time.monotonic() < deadline:
            time.sleep(0.01)
        assert service.workers.gate.inside == 0  # the cancelled job freed its slot
        assert client.post("/v1/upscale", content=png_bytes(), headers={"content-type": "image/png"}).status_code == 200


def test_a_cancelled_job_stops_between_tiles() -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        upscale_upload(Upscaler(scale=2, tile=8), Upload(png_bytes(32, 32), "a.png"), "png", cancel)


def test_models_health_openapi_and_docs(client: TestClient) -> None:
    models = client.get("/v1/models").json()
    assert {(m["scale"], m["depth"]) for m in models["models"]} >= {(2, 19), (3, 19), (4, 19)}
    auto = Upscaler(scale=2)
    assert models["default"] == {"scale": 2, "depth": 19, "engine": auto.engine, "precision": auto.precision,
                                 "model": "litesrnet_x2_d19.onnx"}
    assert models["limits"]["max_upload_mb"] == 1
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["capacity"] == 10
    spec = client.get("/openapi.json").json()
    operation = spec["paths"]["/v1/upscale"]["post"]
    assert {"multipart/form-data", "image/png"} <= set(operation["requestBody"]["content"])
    assert {"200", "400", "413", "415", "422", "503", "504"} <= set(operation["responses"])
    docs = client.get("/docs")
    assert docs.status_code == 200 and "openapi.json" in docs.text


def test_the_page_and_its_assets_come_from_the_package_with_no_other_host(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = [client.get(path) for path in ("/static/app.js", "/static/style.css", "/static/docs.js")]
    assert all(a.status_code == 200 for a in assets)
    for text in [page.text, client.get("/docs").text] + [a.text for a in assets]:
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


def test_unknown_paths_and_methods_are_json(client: TestClient) -> None:
    _detail(client.get("/nope"), 404)
    _detail(client.get("/v1/upscale"), 405)



def test_an_unexpected_fault_is_a_json_500_without_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(server_app, "upscale_upload", broken)
    service = Service(ServeConfig(scale=2))
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        reply = client.post("/v1/upscale", content=png_bytes(), headers={"content-type": "image/png"})
    assert reply.status_code == 500
    assert reply.json() == {"status": 500, "detail": "internal error; the server log has the details"}
    assert service.workers.gate.inside == 0


def test_closing_the_service_cancels_running_jobs() -> None:
    service = Service(ServeConfig(scale=2, concurrency=1, queue=0))
    started, seen = threading.Event(), []

    def job(cancel: threading.Event) -> None:
        started.set()
        seen.append(cancel.wait(10))

    async def run() -> None:
        task = asyncio.ensure_future(service.workers.run(job, Slot(service.workers.gate), time.monotonic() + 30))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        service.close()
        await task

    service.workers.gate.try_enter()
    asyncio.run(run())
    assert seen == [True]  # the job saw its cancel event set by close(), long before its 10 s wait
