"""Metadata carried from input to output: EXIF (orientation 1, sizes updated), ICC bytes, XMP, IPTC.

Fixtures are built with Pillow (the dev extra) and checked with Pillow, an independent reader.
The helpers here are imported by the other test_workflow_*.py modules.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from litesr_edge import Upscaler, read_image
from litesr_edge._metadata import read_metadata

Image = pytest.importorskip("PIL.Image", reason="Pillow (dev extra) builds and reads the metadata fixtures")
ImageOps = pytest.importorskip("PIL.ImageOps", reason="Pillow (dev extra)")
PngImagePlugin = pytest.importorskip("PIL.PngImagePlugin", reason="Pillow (dev extra)")

MAKE, MODEL, ORIENTATION, DATETIME = 0x010F, 0x0110, 0x0112, 0x0132
EXIF_IFD, GPS_IFD, PIXEL_X, PIXEL_Y = 0x8769, 0x8825, 0xA002, 0xA003
XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       b'xmlns:tiff="http://ns.adobe.com/tiff/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/" '
       b'tiff:Orientation="6"><dc:creator><rdf:Seq><rdf:li>Ann Photographer</rdf:li></rdf:Seq></dc:creator>'
       b'</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>')
XMP_MARK = b"Ann Photographer"


def _s15(*values: float) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def _mluc(text: str) -> bytes:
    utf16 = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II", 1, 12) + b"enUS" + struct.pack(">II", len(utf16), 28) + utf16


def display_p3(padding: int = 0) -> bytes:
    """A valid ICC v4 Display P3 display profile (D50-adapted primaries, sRGB curve).

    ``padding`` adds a private tag of that many bytes: over 64 KB, a JPEG needs several APP2 chunks.
    """
    xyz = {"wtpt": (0.9642, 1.0, 0.8249), "rXYZ": (0.515121, 0.241196, -0.001053),
           "gXYZ": (0.291977, 0.692245, 0.041885), "bXYZ": (0.157104, 0.066574, 0.784073)}
    tags = [("desc", _mluc("Display P3 (litesr test)")), ("cprt", _mluc("No copyright, test data"))]
    tags += [(sig, b"XYZ " + bytes(4) + _s15(*v)) for sig, v in xyz.items()]
    curve = b"para" + bytes(4) + struct.pack(">HH", 3, 0) + _s15(2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    tags += [(sig, curve) for sig in ("rTRC", "gTRC", "bTRC")]
    if padding:
        tags.append(("zzzz", b"data" + bytes(4) + bytes(range(256)) * (padding // 256)))
    offset, table, body = 128 + 4 + 12 * len(tags), b"", b""
    for sig, data in tags:
        table += sig.encode() + struct.pack(">II", offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    size = offset + len(body)
    head = struct.pack(">I", size) + b"lcms" + struct.pack(">I", 0x04300000) + b"mntrRGB XYZ "
    head += struct.pack(">6H", 2024, 5, 1, 10, 0, 0) + b"acspAPPL" + bytes(24) + _s15(0.9642, 1.0, 0.8249)
    head += b"lcms" + bytes(44)
    return head + struct.pack(">I", len(tags)) + table + body


def camera_exif(width: int, height: int, orientation: int = 6) -> Image.Exif:
    """EXIF as a camera writes it: make, model, date, lens, pixel size, and GPS."""
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ORIENTATION], exif[DATETIME] = "Canon", "EOS R5", orientation, "2024:05:01 10:00:00"
    sub = exif.get_ifd(EXIF_IFD)
    sub[0x9003], sub[0xA434], sub[0x829A] = "2024:05:01 10:00:00", "RF24-70mm F2.8 L IS USM", (1, 250)
    sub[PIXEL_X], sub[PIXEL_Y] = width, height
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 30.0, 12.5), "E", (13.0, 24.0, 1.0)
    return exif


def photo(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*shape, 3)).astype(np.uint8)


def save_photo(path: Path, shape: tuple[int, int] = (10, 12), orientation: int = 6, icc: bytes | None = None) -> Path:
    """An RGB photo with camera EXIF (GPS included), a Display P3 profile and XMP, in ``path``'s format."""
    icc = display_p3() if icc is None else icc
    if path.suffix.lower() in (".tif", ".tiff"):  # Pillow writes no Exif/GPS sub-IFDs into a TIFF
        path.write_bytes(tiff_photo(photo(shape), orientation, icc))
        return path
    exif = camera_exif(shape[1], shape[0], orientation)
    image = Image.fromarray(photo(shape))
    if path.suffix == ".png":  # Pillow's PNG writer has no xmp= option
        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", XMP.decode())
        image.save(path, exif=exif.tobytes(), icc_profile=icc, pnginfo=info)
    else:
        image.save(path, exif=exif.tobytes(), icc_profile=icc, xmp=XMP, **({"lossless": True}
                   if path.suffix == ".webp" else {}))
    return path


def _ifd(entries: list[tuple[int, int, int, bytes]], at: int) -> bytes:
    """A big-endian IFD at offset ``at``: (tag, type, count, value bytes), long values after it."""
    table, extra = struct.pack(">H", len(entries)), b""
    end = at + 2 + 12 * len(entries) + 4
    for tag, kind, count, value in sorted(entries):
        if len(value) <= 4:
            table += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")
        else:
            table += struct.pack(">HHII", tag, kind, count, end + len(extra))
            extra += value + bytes(len(value) % 2)
    return table + bytes(4) + extra


def _ascii(text: str) -> tuple[int, int, bytes]:
    return 2, len(text) + 1, text.encode() + b"\x00"


def tiff_photo(rgb: np.ndarray, orientation: int, icc: bytes) -> bytes:
    """A big-endian, uncompressed RGB TIFF with camera tags, Exif and GPS sub-IFDs, ICC and XMP,
    written here by hand (independently of litesr_edge's TIFF code)."""
    height, width = rgb.shape[:2]
    rational = lambda *pairs: b"".join(struct.pack(">II", *p) for p in pairs)  # noqa: E731
    exif = [(0x829A, 5, 1, rational((1, 250))), (0x9003, *_ascii("2024:05:01 10:00:00")),
            (PIXEL_X, 4, 1, struct.pack(">I", width)), (PIXEL_Y, 4, 1, struct.pack(">I", height)),
            (0xA434, *_ascii("RF24-70mm F2.8 L IS USM"))]
    gps = [(1, *_ascii("N")), (2, 5, 3, rational((52, 1), (30, 1), (25, 2))), (3, *_ascii("E")),
           (4, 5, 3, rational((13, 1), (24, 1), (1, 1)))]
    pixels = rgb.tobytes()

    def ifd0(exif_at: int, gps_at: int, strip_at: int) -> list[tuple[int, int, int, bytes]]:
        long = lambda v: struct.pack(">I", v)  # noqa: E731
        short = lambda v: struct.pack(">H", v)  # noqa: E731
        return [(256, 4, 1, long(width)), (257, 4, 1, long(height)), (258, 3, 3, short(8) * 3),
                (259, 3, 1, short(1)), (262, 3, 1, short(2)), (271, *_ascii("Canon")), (272, *_ascii("EOS R5")),
                (273, 4, 1, long(strip_at)), (274, 3, 1, short(orientation)), (277, 3, 1, short(3)),
                (278, 4, 1, long(height)), (279, 4, 1, long(len(pixels))), (284, 3, 1, short(1)),
                (306, *_ascii("2024:05:01 10:00:00")), (700, 1, len(XMP), XMP), (34665, 4, 1, long(exif_at)),
                (34675, 7, len(icc), icc), (34853, 4, 1, long(gps_at))]

    size0 = len(_ifd(ifd0(0, 0, 0), 8))
    exif_at = 8 + size0
    gps_at = exif_at + len(_ifd(exif, exif_at))
    strip_at = gps_at + len(_ifd(gps, gps_at))
    body = _ifd(ifd0(exif_at, gps_at, strip_at), 8) + _ifd(exif, exif_at) + _ifd(gps, gps_at)
    return b"MM\x00*" + struct.pack(">I", 8) + body + pixels


def exif_fields(exif: Image.Exif) -> dict[str, object]:
    """The fields compared between input and output (not orientation and pixel sizes, which change)."""
    sub, gps = exif.get_ifd(EXIF_IFD), exif.get_ifd(GPS_IFD)
    return {"make": exif.get(MAKE), "model": exif.get(MODEL), "datetime": exif.get(DATETIME),
            "exif": {k: v for k, v in sub.items() if k not in (PIXEL_X, PIXEL_Y)}, "gps": dict(gps)}


def xmp_of(image: Image.Image) -> bytes:
    raw = image.info.get("xmp") or image.info.get("XML:com.adobe.xmp") or b""
    if not raw and hasattr(image, "tag_v2"):
        raw = image.tag_v2.get(700, b"")
    return raw.encode() if isinstance(raw, str) else bytes(raw)


def check_carried(src: Path, out: Path, size: tuple[int, int]) -> None:
    """``out`` has ``src``'s EXIF fields, orientation 1, pixel size ``size`` (w, h), its ICC bytes and its XMP."""
    with Image.open(src) as before, Image.open(out) as after:
        assert after.size == size
        assert exif_fields(after.getexif()) == exif_fields(before.getexif())
        assert exif_fields(after.getexif())["gps"]  # not two empty dicts
        assert after.getexif().get(ORIENTATION) == 1
        sub = after.getexif().get_ifd(EXIF_IFD)
        assert (sub[PIXEL_X], sub[PIXEL_Y]) == size
        assert after.info["icc_profile"] == before.info["icc_profile"]
        xmp = xmp_of(after)
        assert XMP_MARK in xmp and b'tiff:Orientation="1"' in xmp


def test_display_p3_fixture_is_a_valid_profile() -> None:
    cms = pytest.importorskip("PIL.ImageCms", reason="Pillow's littleCMS binding")
    profile = cms.ImageCmsProfile(io.BytesIO(display_p3(70_000)))
    assert "Display P3" in cms.getProfileDescription(profile)


@pytest.fixture
def x2(tiny_models: dict[int, Path]) -> Upscaler:
    return Upscaler(model=tiny_models[2], threads=1, tile=0)


@pytest.mark.parametrize("src_ext", [".jpg", ".png", ".webp", ".tiff"])
@pytest.mark.parametrize("dst_ext", [".jpg", ".png", ".webp", ".tiff"])
def test_metadata_is_carried_between_every_pair_of_formats(
    tmp_path: Path, x2: Upscaler, src_ext: str, dst_ext: str
) -> None:
    src = save_photo(tmp_path / f"in{src_ext}", (10, 12), orientation=6)
    out = x2.upscale_file(src, tmp_path / f"out{dst_ext}")
    check_carried(src, out, (20, 24))  # orientation 6: the 12x10 picture stands upright as 10 wide, 12 high
    assert read_image(out).shape[:2] == (24, 20)


def test_a_multi_chunk_icc_profile_comes_out_byte_identical(tmp_path: Path, x2: Upscaler) -> None:
    big = display_p3(padding=70_000)
    src = save_photo(tmp_path / "in.jpg", icc=big)
    assert read_metadata(src.read_bytes()).icc == big  # Pillow split it into two APP2 chunks
    for ext in (".jpg", ".png", ".tiff", ".webp"):
        out = x2.upscale_file(src, tmp_path / f"out{ext}")
        assert read_metadata(out.read_bytes()).icc == big
        with Image.open(out) as image:
            assert image.info["icc_profile"] == big


def test_maker_notes_keep_their_bytes_and_offsets(tmp_path: Path, x2: Upscaler) -> None:
    exif = camera_exif(12, 10)
    exif.get_ifd(EXIF_IFD)[0x927C] = b"MAKERNOTE" + bytes(range(200))
    src = tmp_path / "in.jpg"
    Image.fromarray(photo((10, 12))).save(src, exif=exif.tobytes())
    before = read_metadata(src.read_bytes()).exif
    after = read_metadata(x2.upscale_file(src, tmp_path / "out.jpg").read_bytes()).exif
    assert before is not None and after is not None and len(after) == len(before)
    changed = [i for i, (a, b) in enumerate(zip(before, after, strict=True)) if a != b]
    assert changed and len(changed) <= 16  # orientation, two sizes and the thumbnail link: bytes patched in place


@pytest.mark.parametrize("ext", [".jpg", ".png", ".webp", ".tiff"])
def test_strip_metadata_leaves_none(tmp_path: Path, x2: Upscaler, ext: str) -> None:
    src = save_photo(tmp_path / f"in{ext}")
    out = x2.upscale_file(src, tmp_path / f"out{ext}", strip_metadata=True)
    meta = read_metadata(out.read_bytes())
    assert (meta.exif, meta.icc, meta.xmp, meta.iptc) == (None, None, None, None)
    with Image.open(out) as image:
        assert "icc_profile" not in image.info and not xmp_of(image)
        assert not {MAKE, GPS_IFD, EXIF_IFD, 34675, 700} & set(image.getexif())
        assert image.size == (20, 24)  # still turned upright


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", [".png", ".webp"])
def test_orientation_is_applied_like_pillow(tmp_path: Path, ext: str, orientation: int) -> None:
    src = save_photo(tmp_path / f"in{ext}", (6, 10), orientation)
    with Image.open(src) as image:
        expected = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    np.testing.assert_array_equal(read_image(src), expected)


def test_iptc_moves_between_jpeg_and_tiff(tmp_path: Path, x2: Upscaler) -> None:
    iim = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x50\x00\x03Ann"  # record version, by-line "Ann"
    irb = b"8BIM" + struct.pack(">HHI", 0x0404, 0, len(iim)) + iim + bytes(len(iim) % 2)
    app13 = b"Photoshop 3.0\x00" + irb
    buf = io.BytesIO()
    Image.fromarray(photo((10, 12))).save(buf, "JPEG")
    data = buf.getvalue()
    src = tmp_path / "in.jpg"
    src.write_bytes(data[:2] + b"\xff\xed" + struct.pack(">H", len(app13) + 2) + app13 + data[2:])
    tiff = x2.upscale_file(src, tmp_path / "out.tiff")
    assert read_metadata(tiff.read_bytes()).iptc == iim
    back = x2.upscale_file(tiff, tmp_path / "back.jpg")
    assert read_metadata(back.read_bytes()).iptc == iim


def test_alpha_webp_keeps_alpha_and_profile(tmp_path: Path, x2: Upscaler) -> None:
    rgba = np.dstack([photo((10, 12)), np.full((10, 12), 128, np.uint8)])
    src = tmp_path / "in.png"
    Image.fromarray(rgba).save(src, icc_profile=display_p3(), exif=camera_exif(12, 10, 1).tobytes())
    out = x2.upscale_file(src, tmp_path / "out.webp")
    with Image.open(out) as image:
        assert image.mode == "RGBA" and image.size == (24, 20)
        assert image.info["icc_profile"] == display_p3() and image.getexif()[MAKE] == "Canon"
    assert read_image(out)[..., 3].min() > 100


def test_a_corrupt_exif_block_is_dropped_not_fatal(tmp_path: Path, x2: Upscaler) -> None:
    src = tmp_path / "in.jpg"
    Image.fromarray(photo((10, 12))).save(src, exif=b"Exif\x00\x00MM\x00*\x00\x00\xff\xff", icc_profile=display_p3())
    out = x2.upscale_file(src, tmp_path / "out.png")
    meta = read_metadata(out.read_bytes())
    assert meta.exif is None and meta.icc == display_p3()


def test_exif_too_large_for_a_jpeg_is_a_clear_error(tmp_path: Path, x2: Upscaler) -> None:
    exif = camera_exif(12, 10, 1)
    exif[0x010E] = "x" * 70_000  # ImageDescription
    src = tmp_path / "in.png"
    Image.fromarray(photo((10, 12))).save(src, exif=exif.tobytes())
    from litesr_edge.errors import ImageWriteError

    with pytest.raises(ImageWriteError, match="larger than a JPEG segment holds.*strip_metadata=True"):
        x2.upscale_file(src, tmp_path / "out.jpg")
    assert not (tmp_path / "out.jpg").exists()
    x2.upscale_file(src, tmp_path / "out.tiff")  # TIFF holds it
    with Image.open(tmp_path / "out.tiff") as image:
        assert len(image.getexif()[0x010E]) == 70_000


def test_xmp_sizes_are_updated(tmp_path: Path, x2: Upscaler) -> None:
    packet = XMP.replace(b'tiff:Orientation="6"', b'tiff:Orientation="6" exif:PixelXDimension="12"')
    packet = packet.replace(b"<dc:creator>", b"<exif:PixelYDimension>10</exif:PixelYDimension><dc:creator>")
    src = tmp_path / "in.jpg"
    Image.fromarray(photo((10, 12))).save(src, xmp=packet, exif=camera_exif(12, 10, 6).tobytes())
    xmp = read_metadata(x2.upscale_file(src, tmp_path / "out.jpg").read_bytes()).xmp or b""
    assert b'exif:PixelXDimension="20"' in xmp and b"<exif:PixelYDimension>24</exif:PixelYDimension>" in xmp
    assert b'tiff:Orientation="1"' in xmp and XMP_MARK in xmp


def test_a_profile_of_another_colour_space_is_dropped(tmp_path: Path, x2: Upscaler) -> None:
    grey = tmp_path / "grey.png"
    Image.fromarray(photo((10, 12))[..., 0]).save(grey, icc_profile=display_p3())  # an RGB profile on grey
    assert read_metadata(grey.read_bytes()).icc == display_p3()
    assert read_metadata(x2.upscale_file(grey, tmp_path / "out.png").read_bytes()).icc is None


def test_an_icc_zip_bomb_is_not_inflated(tmp_path: Path) -> None:
    import zlib

    png = io.BytesIO()
    Image.fromarray(photo((4, 4))).save(png, "PNG")
    data = png.getvalue()
    body = b"iCCP" + b"bomb\x00\x00" + zlib.compress(bytes(65 * 2**20), 9)
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    assert len(chunk) < 100_000
    meta = read_metadata(data[:33] + chunk + data[33:])  # after IHDR
    assert meta.icc is None
