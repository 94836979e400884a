#!/usr/bin/env python3
"""Writes the bad-publish corpus: one cargo publish body per case (*.body) and cases.tsv (file, expected status,
what it tries). Every case must be refused with nothing stored or claimed. Run from anywhere; it writes next to
itself. Bodies are deterministic (gzip mtime 0), so re-running changes nothing."""
import gzip, io, json, os, struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAME, VERS = "corpus", "1.0.0"
ROOT = f"{NAME}-{VERS}"
MANIFEST = f'[package]\nname = "{NAME}"\nversion = "{VERS}"\nedition = "2021"\n'.encode()


def octal(value, width):
    return (b"%0*o" % (width - 1, value)) + b"\0"


def header(name, size, typeflag=b"0", linkname=b"", gnu=False, size_field=None, bad_checksum=False, prefix=b""):
    h = bytearray(512)
    h[0:len(name)] = name[:100]
    h[100:108] = octal(0o644, 8)
    h[108:116] = octal(0, 8)
    h[116:124] = octal(0, 8)
    h[124:136] = size_field if size_field is not None else octal(size, 12)
    h[136:148] = octal(0, 12)
    h[156:157] = typeflag
    h[157:157 + len(linkname)] = linkname
    if gnu:
        h[257:265] = b"ustar  \0"
    else:
        h[257:265] = b"ustar\x0000"
        h[345:345 + len(prefix)] = prefix
    h[148:156] = b" " * 8
    checksum = sum(h) + (1 if bad_checksum else 0)
    h[148:156] = b"%06o\0 " % checksum
    return bytes(h)


def pad(data):
    return data + b"\0" * ((512 - len(data) % 512) % 512)


def entry(name, data=b"", typeflag=b"0", **kw):
    return header(name.encode() if isinstance(name, str) else name, len(data), typeflag, **kw) + pad(data)


def pax(records):
    body = b""
    for key, value in records:
        rec = b" " + key + b"=" + value + b"\n"
        n = len(rec) + 1
        while len(str(n)) + len(rec) != n:
            n = len(str(n)) + len(rec)
        body += str(n).encode() + rec
    return body


def tar(*parts, end=True):
    return b"".join(parts) + (b"\0" * 1024 if end else b"")


def gz(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(data)
    return out.getvalue()


def good_files():
    return [entry(f"{ROOT}/Cargo.toml", MANIFEST), entry(f"{ROOT}/src/lib.rs", b"pub fn f() {}\n")]


def meta(**changes):
    doc = {"name": NAME, "vers": VERS, "deps": [], "features": {}, "authors": [], "description": "corpus",
           "documentation": None, "homepage": None, "readme": None, "readme_file": None, "keywords": [],
           "categories": [], "license": "MIT", "license_file": None, "repository": None, "badges": {},
           "links": None, "rust_version": None}
    doc.update(changes)
    return json.dumps(doc).encode()


def dep(**changes):
    d = {"optional": False, "default_features": True, "name": "serde", "features": [], "version_req": "^1",
         "target": None, "kind": "normal", "registry": "https://github.com/rust-lang/crates.io-index"}
    d.update(changes)
    return d


def body(json_bytes, crate_bytes, json_len=None, crate_len=None, trailing=b""):
    return (struct.pack("<I", len(json_bytes) if json_len is None else json_len) + json_bytes
            + struct.pack("<I", len(crate_bytes) if crate_len is None else crate_len) + crate_bytes + trailing)


def crate(*parts, end=True):
    return gz(tar(*parts, end=end))


CASES = []


def case(file, status, what, data):
    CASES.append((file, status, what))
    with open(os.path.join(HERE, file), "wb") as f:
        f.write(data)


G = good_files
# Item 1: sizes from the request, bounded before allocation.
case("gnu-longname-1gib.body", 400, "GNU long name header announcing 1 GiB (the 0.5 GB allocation)",
     body(meta(), crate(header(b"././@LongLink", 1 << 30, b"L", gnu=True), b"a" * 4096, end=False)))
case("gnu-longname-base256.body", 400, "GNU long name with a base-256 size of 2^60",
     body(meta(), crate(header(b"././@LongLink", 0, b"L", gnu=True, size_field=b"\x80" + b"\0" * 3 + struct.pack(">Q", 1 << 60)), end=False)))
case("gnu-longlink-256mib.body", 400, "GNU long link header announcing 256 MiB",
     body(meta(), crate(header(b"././@LongLink", 256 << 20, b"K", gnu=True), b"b" * 4096, end=False)))
case("pax-local-512mib.body", 400, "PAX extended header announcing 512 MiB",
     body(meta(), crate(header(b"PaxHeaders/x", 512 << 20, b"x"), b"30 path=aaaaaaaaaaaaaaaaaaaaa\n", end=False)))
case("pax-global-512mib.body", 400, "PAX global header announcing 512 MiB",
     body(meta(), crate(header(b"pax_global_header", 512 << 20, b"g"), end=False)))
case("longname-over-path-max.body", 400, "GNU long name of 8000 bytes (within the header bound, over the path bound)",
     body(meta(), crate(entry(b"././@LongLink", (ROOT + "/" + "d" * 7990).encode() + b"\0", b"L", gnu=True), entry("x", b"x", gnu=True), *G())))
case("extension-chain.body", 400, "five GNU long names in a row before one entry",
     body(meta(), crate(*[entry(b"././@LongLink", f"{ROOT}/n{i}".encode() + b"\0", b"L", gnu=True) for i in range(5)], entry("x", b"", gnu=True), *G())))
case("pax-size-huge.body", 400, "PAX size of 10^15 on a file (read until the unpack limit or the end)",
     body(meta(), crate(entry(b"PaxHeaders/x", pax([(b"size", b"1000000000000000")]), b"x"), entry(f"{ROOT}/big.rs", b"x"), *G())))
case("pax-malformed.body", 400, "PAX record whose length runs past the header",
     body(meta(), crate(entry(b"PaxHeaders/x", b"99 path=x\n", b"x"), *G())))
case("pax-length-overflow.body", 400, "PAX record length of 10 digits",
     body(meta(), crate(entry(b"PaxHeaders/x", b"9999999999 path=x\n", b"x"), *G())))
case("pax-path-traversal.body", 400, "PAX path with ..",
     body(meta(), crate(entry(b"PaxHeaders/x", pax([(b"path", f"{ROOT}/../evil.rs".encode())]), b"x"), entry(f"{ROOT}/ok.rs", b"x"), *G())))
case("size-field-garbage.body", 400, "size field that is not octal",
     body(meta(), crate(header(f"{ROOT}/a.rs".encode(), 0, size_field=b"9z9z9z9z9z9\0"), end=False)))
case("bad-checksum.body", 400, "header checksum off by one",
     body(meta(), crate(header(f"{ROOT}/Cargo.toml".encode(), len(MANIFEST), bad_checksum=True) + pad(MANIFEST))))
case("truncated-header.body", 400, "archive ends 100 bytes into a header",
     body(meta(), gz(G()[0] + G()[1][:100])))
case("truncated-data.body", 400, "archive ends inside an entry's data",
     body(meta(), gz(header(f"{ROOT}/Cargo.toml".encode(), 4096) + b"x" * 100)))
case("not-gzip.body", 400, "crate bytes that are not gzip", body(meta(), b"this is not a gzip stream at all"))
case("gzip-bomb.body", 400, "a file of 520 MiB of one byte, gzipped (over the 512 MiB unpack limit)",
     body(meta(), gz(header(f"{ROOT}/bomb.rs".encode(), 520 << 20) + b"a" * (520 << 20))))
case("manifest-over-1mib.body", 400, "Cargo.toml of 1 MiB + 1",
     body(meta(), crate(entry(f"{ROOT}/Cargo.toml", MANIFEST + b"#" * ((1 << 20) + 1 - len(MANIFEST))))))
# Item 13: paths normalised before the manifest and duplicate checks.
case("duplicate-manifest-double-slash.body", 400, "Cargo.toml and /Cargo.toml with a doubled slash, different contents",
     body(meta(), crate(*G(), entry(f"{ROOT}//Cargo.toml", MANIFEST.replace(b"2021", b"2018")))))
case("duplicate-manifest-dot.body", 400, "./root/Cargo.toml after root/Cargo.toml",
     body(meta(), crate(*G(), entry(f"./{ROOT}/Cargo.toml", MANIFEST))))
case("duplicate-file-dot-segment.body", 400, "src/lib.rs and src/./lib.rs",
     body(meta(), crate(*G(), entry(f"{ROOT}/src/./lib.rs", b"// other"))))
case("duplicate-file-trailing-slash.body", 400, "a file, then the same path as a folder with a trailing slash",
     body(meta(), crate(*G(), entry(f"{ROOT}/src/lib.rs/", b"", b"5"))))
case("duplicate-via-prefix.body", 400, "ustar prefix + name that joins to an existing path",
     body(meta(), crate(*G(), header(b"lib.rs", 3, prefix=f"{ROOT}/src".encode()) + pad(b"//x"))))
case("duplicate-via-longname.body", 400, "GNU long name that equals an existing path",
     body(meta(), crate(*G(), entry(b"././@LongLink", f"{ROOT}/src//lib.rs".encode() + b"\0", b"L", gnu=True), entry("short", b"x", gnu=True))))
case("dotdot.body", 400, "entry path with ..", body(meta(), crate(*G(), entry(f"{ROOT}/../x.rs", b"x"))))
case("absolute.body", 400, "absolute entry path", body(meta(), crate(*G(), entry(f"/{ROOT}/x.rs", b"x"))))
case("backslash.body", 400, "entry path with a backslash", body(meta(), crate(*G(), entry(f"{ROOT}\\..\\x.rs", b"x"))))
case("only-dots.body", 400, "entry path ./", body(meta(), crate(entry("./", b"", b"5"), *G())))
case("symlink.body", 400, "symbolic link", body(meta(), crate(*G(), entry(f"{ROOT}/link", b"", b"2", linkname=b"/etc/passwd"))))
case("hardlink.body", 400, "hard link", body(meta(), crate(*G(), entry(f"{ROOT}/link", b"", b"1", linkname=f"{ROOT}/Cargo.toml".encode()))))
case("char-device.body", 400, "character device", body(meta(), crate(*G(), entry(f"{ROOT}/dev", b"", b"3"))))
case("gnu-sparse.body", 400, "GNU sparse file", body(meta(), crate(*G(), entry(f"{ROOT}/sparse", b"", b"S", gnu=True))))
case("invalid-utf8-path.body", 400, "entry path that is not UTF-8", body(meta(), crate(*G(), entry(f"{ROOT}/".encode() + b"\xff\xfe.rs", b"x"))))
case("no-manifest.body", 400, "no Cargo.toml at all", body(meta(), crate(entry(f"{ROOT}/src/lib.rs", b""))))
# Item 3: identifiers ending in a newline (and other validated fields).
case("name-newline.body", 400, "name ending in \\n", body(meta(name=NAME + "\n"), crate(*G())))
case("version-newline.body", 400, "version ending in \\n", body(meta(vers=VERS + "\n"), crate(*G())))
case("version-build-newline.body", 400, "version with build metadata ending in \\n", body(meta(vers=VERS + "+b\n"), crate(*G())))
case("dep-name-newline.body", 400, "dependency name ending in \\n", body(meta(deps=[dep(name="serde\n")]), crate(*G())))
case("dep-req-newline.body", 400, "dependency version_req ending in \\n", body(meta(deps=[dep(version_req="^1\n")]), crate(*G())))
case("dep-req-inner-newline.body", 400, "dependency version_req with a newline after the operator", body(meta(deps=[dep(version_req=">=\n1")]), crate(*G())))
case("dep-alias-newline.body", 400, "explicit_name_in_toml ending in \\n", body(meta(deps=[dep(explicit_name_in_toml="s\n")]), crate(*G())))
case("dep-target-newline.body", 400, "dependency target ending in \\n", body(meta(deps=[dep(target="cfg(unix)\n")]), crate(*G())))
case("dep-registry-newline.body", 400, "dependency registry ending in \\n", body(meta(deps=[dep(registry="https://example.invalid/\n")]), crate(*G())))
case("dep-feature-newline.body", 400, "dependency feature ending in \\n", body(meta(deps=[dep(features=["derive\n"])]), crate(*G())))
case("feature-name-newline.body", 400, "feature name ending in \\n", body(meta(features={"std\n": []}), crate(*G())))
case("feature-value-newline.body", 400, "feature value ending in \\n", body(meta(features={"std": ["dep:serde\n"]}), crate(*G())))
case("keyword-newline.body", 400, "keyword ending in \\n", body(meta(keywords=["kw\n"]), crate(*G())))
case("rust-version-newline.body", 400, "rust_version ending in \\n", body(meta(rust_version="1.70\n"), crate(*G())))
case("links-newline.body", 400, "links ending in \\n", body(meta(links="z\n"), crate(*G())))
# The body and the JSON.
case("empty.body", 400, "empty body", b"")
case("json-length-4gib.body", 413, "metadata length 2^32-1", struct.pack("<I", 0xFFFFFFFF) + b"{}")
case("crate-length-4gib.body", 413, "crate length 2^32-1", body(meta(), b"", crate_len=0xFFFFFFFF))
case("json-truncated.body", 400, "body ends inside the metadata", struct.pack("<I", 1000) + b"{\"name\":")
case("crate-truncated.body", 400, "body ends inside the crate file", body(meta(), crate(*G()))[:-10])
case("trailing-data.body", 400, "bytes after the crate file", body(meta(), crate(*G()), trailing=b"extra"))
case("json-not-json.body", 400, "metadata that is not JSON", body(b"\xff\xfe not json", crate(*G())))
case("json-null.body", 400, "metadata `null`", body(b"null", crate(*G())))
case("json-deep.body", 400, "metadata nested 100000 deep", body(b"[" * 100000 + b"]" * 100000, crate(*G())))
case("json-deps-not-objects.body", 400, "deps of the wrong type", body(meta(deps=[1, 2, 3]), crate(*G())))
case("json-reserved-name.body", 400, "reserved name", body(meta(name="std"), crate(*G())))
case("json-too-many-features.body", 400, "301 features", body(meta(features={f"f{i}": [] for i in range(301)}), crate(*G())))
case("json-zero-length.body", 400, "metadata length 0", body(b"", crate(*G())))
case("crate-zero-length.body", 400, "crate length 0", body(meta(), b""))

with open(os.path.join(HERE, "cases.tsv"), "w") as f:
    f.write("# file\texpected status (in process; over HTTP the same)\twhat it tries\n")
    for file, status, what in CASES:
        f.write(f"{file}\t{status}\t{what}\n")
print(f"{len(CASES)} cases")
