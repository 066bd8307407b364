"""Images from a ZIP or a folder, read in memory with path, count, size and ratio checks."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ...errors import DataError

__all__ = ["IMAGE_SUFFIXES", "ZipLimits", "ImageItem", "read_images"]

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"}


@dataclass(frozen=True)
class ZipLimits:
    """Bounds for archives from users (a ZIP bomb or a huge upload is refused, not unpacked)."""

    max_members: int = 100_000
    max_member_bytes: int = 50 * 2**20
    max_total_bytes: int = 4 * 2**30
    max_ratio: float = 200.0  # uncompressed / compressed, for members over 1 MiB


@dataclass(frozen=True)
class ImageItem:
    """One image file: its path inside the source, its label (or None) and its bytes."""

    name: str
    label: str | None
    data: bytes = field(repr=False)


def _safe_member(name: str) -> PurePosixPath:
    p = PurePosixPath(name.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts or (p.parts and ":" in p.parts[0]):
        raise DataError(f"the ZIP contains an unsafe path {name!r} (absolute or with '..'); refusing to read it.")
    return p


def _is_junk(p: PurePosixPath) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in p.parts)


def _zip_members(data: bytes, limits: ZipLimits, label: str) -> list[tuple[PurePosixPath, bytes]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DataError(f"{label}: not a readable ZIP archive.") from None
    with archive:
        infos = [i for i in archive.infolist() if not i.is_dir()]
        if len(infos) > limits.max_members:
            raise DataError(f"{label}: {len(infos)} files exceed the limit of {limits.max_members}.")
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            raise DataError(
                f"{label}: {total / 2**20:.0f} MiB uncompressed exceeds the limit of "
                f"{limits.max_total_bytes / 2**20:.0f} MiB; refusing to unpack it."
            )
        members = []
        for info in infos:
            path = _safe_member(info.filename)
            if info.file_size > limits.max_member_bytes:
                raise DataError(
                    f"{label}: {info.filename!r} is {info.file_size / 2**20:.0f} MiB uncompressed, over the "
                    f"per-file limit of {limits.max_member_bytes / 2**20:.0f} MiB."
                )
            if info.file_size > 2**20 and info.file_size / max(info.compress_size, 1) > limits.max_ratio:
                raise DataError(
                    f"{label}: {info.filename!r} compresses {info.file_size / max(info.compress_size, 1):.0f}:1, "
                    "which looks like a ZIP bomb; refusing to unpack it."
                )
            if _is_junk(path):
                continue
            with archive.open(info) as f:
                blob = f.read(limits.max_member_bytes + 1)
            if len(blob) > limits.max_member_bytes:
                raise DataError(f"{label}: {info.filename!r} is larger than it claims; refusing the archive.")
            members.append((path, blob))
    return members


def _folder_members(root: Path, limits: ZipLimits) -> list[tuple[PurePosixPath, bytes]]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    if len(files) > limits.max_members:
        raise DataError(f"{root}: {len(files)} files exceed the limit of {limits.max_members}.")
    out = []
    for p in files:
        rel = PurePosixPath(p.relative_to(root).as_posix())
        if _is_junk(rel):
            continue
        if p.stat().st_size > limits.max_member_bytes:
            raise DataError(f"{p}: larger than the per-file limit of {limits.max_member_bytes / 2**20:.0f} MiB.")
        out.append((rel, p.read_bytes()))
    return out


def _read_label_csv(source) -> dict[str, str]:
    data = Path(source).read_bytes() if isinstance(source, (str, Path)) else bytes(source)
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    except UnicodeDecodeError:
        raise DataError("the labels CSV is not UTF-8 text.") from None
    if not rows:
        raise DataError("the labels CSV has no rows.")
    cols = {c.lower(): c for c in rows[0]}
    file_col = next((cols[c] for c in ("file", "filename", "file_name", "path", "image") if c in cols), None)
    label_col = next((cols[c] for c in ("label", "class", "category") if c in cols), None)
    if file_col is None or label_col is None:
        raise DataError(
            f"the labels CSV needs a file column (file/filename/path/image) and a label column "
            f"(label/class/category); it has {', '.join(rows[0])}."
        )
    return {str(r[file_col]).strip().replace("\\", "/"): str(r[label_col]).strip() for r in rows if r.get(file_col)}


def read_images(
    source, *, labels_csv=None, limits: ZipLimits = ZipLimits(), name: str | None = None
) -> tuple[list[ImageItem], list[tuple[str, str]]]:
    """Collect images and labels from a ZIP (path or bytes) or a folder.

    Labels: the CSV's label for the file (matched by path, then by file name) if given,
    else the first folder level (``class/file.jpg``; one wrapping folder common to all
    files is skipped). Files not ending in an image suffix are skipped and listed.

    Returns
    -------
    (items, skipped) with ``skipped`` as (file, reason) pairs
    """
    label = name or (str(source) if isinstance(source, (str, Path)) else "upload.zip")
    if isinstance(source, (str, Path)) and Path(source).is_dir():
        members = _folder_members(Path(source), limits)
    else:
        if isinstance(source, (str, Path)):
            path = Path(source)
            if not path.exists():
                raise DataError(f"{path}: no such ZIP file or folder.")
            data = path.read_bytes()
        else:
            data = bytes(source)
        members = _zip_members(data, limits, label)
    if not members:
        raise DataError(f"{label}: no files found.")
    parts = [m[0].parts for m in members]
    strip = 1 if len({p[0] for p in parts}) == 1 and all(len(p) >= 3 for p in parts) else 0
    mapping = _read_label_csv(labels_csv) if labels_csv is not None else None
    items, skipped = [], []
    for path, blob in members:
        rel = PurePosixPath(*path.parts[strip:])
        if rel.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append((str(path), "not an image file name"))
            continue
        if mapping is not None:
            lab = mapping.get(str(rel)) or mapping.get(str(path)) or mapping.get(rel.name)
        else:
            lab = rel.parts[0] if len(rel.parts) >= 2 else None
        items.append(ImageItem(str(rel), lab or None, blob))
    if not items:
        raise DataError(f"{label}: no image files among {len(members)} file(s).")
    return items, skipped
