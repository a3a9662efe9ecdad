"""A minimal, independent wheel builder for tests: pyship converts what it writes.

usage: make_wheel.py OUT_DIR NAME VERSION TAG [--member PATH=FILE]... [--script NAME=TARGET]
       [--data-script NAME=FILE] [--purelib PATH=FILE] [--requires REQ]... [--raw NAME=TEXT]...
       [--compress stored|deflated]

Writes NAME-VERSION-TAG.whl with METADATA, WHEEL, entry_points.txt and a RECORD of sha256
digests, using only the standard library (zipfile, hashlib), the way any build backend would.
"""
import base64
import hashlib
import sys
import zipfile


def digest(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def main(argv):
    out, name, version, tag = argv[:4]
    members, scripts, requires = [], [], []
    compress = zipfile.ZIP_STORED
    args = argv[4:]
    data_dir = f"{name}-{version}.data"
    while args:
        flag, value = args[0], args[1]
        args = args[2:]
        if flag == "--member":
            path, file = value.split("=", 1)
            members.append((path, open(file, "rb").read()))
        elif flag == "--purelib":
            path, file = value.split("=", 1)
            members.append((f"{data_dir}/purelib/{path}", open(file, "rb").read()))
        elif flag == "--data-script":
            path, file = value.split("=", 1)
            members.append((f"{data_dir}/scripts/{path}", open(file, "rb").read()))
        elif flag == "--script":
            scripts.append(value)
        elif flag == "--requires":
            requires.append(value)
        elif flag == "--raw":
            path, text = value.split("=", 1)
            members.append((path, text.encode()))
        elif flag == "--compress":
            compress = {"stored": zipfile.ZIP_STORED, "deflated": zipfile.ZIP_DEFLATED}[value]
        else:
            raise SystemExit(f"unknown flag {flag}")
    dist_info = f"{name}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {req}\n" for req in requires)
    members.append((f"{dist_info}/METADATA", metadata.encode()))
    python, abi, platform = tag.split("-")
    wheel = "Wheel-Version: 1.0\nGenerator: make_wheel.py\nRoot-Is-Purelib: true\n"
    wheel += "".join(
        f"Tag: {p}-{abi}-{platform}\n" for p in python.split(".")
    )
    members.append((f"{dist_info}/WHEEL", wheel.encode()))
    if scripts:
        text = "[console_scripts]\n" + "".join(
            f"{s.split('=', 1)[0]} = {s.split('=', 1)[1]}\n" for s in scripts
        )
        members.append((f"{dist_info}/entry_points.txt", text.encode()))
    record = "".join(f"{path},{digest(data)},{len(data)}\n" for path, data in members)
    record += f"{dist_info}/RECORD,,\n"
    members.append((f"{dist_info}/RECORD", record.encode()))
    path = f"{out}/{name}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for member, data in members:
            info = zipfile.ZipInfo(member, date_time=(2020, 2, 2, 0, 0, 0))
            info.external_attr = (0o755 if "/scripts/" in member else 0o644) << 16
            info.compress_type = compress
            archive.writestr(info, data)
    print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
