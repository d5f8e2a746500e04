#!/usr/bin/python3
# tamper.py MODE FILE — changes one line of a segment as an insider with file access would, and
# prints what verify must then name: "FILE_NAME:LINE SEQ".
#   edit     the 10th record's debtor changed          -> record SEQ (line LINE) edited
#   delete   the 10th record removed                   -> record SEQ removed
#   swap     the 10th and 11th records swapped          -> record SEQ+1 (line LINE) reordered
#   append   a record chained to the last line, at the end (seq and prev right)  -> appended
#   after    a record after the closing checkpoint      -> appended after the checkpoint
import hashlib, json, sys
mode, path = sys.argv[1], sys.argv[2]
lines = open(path, "rb").read().split(b"\n")
if lines and lines[-1] == b"":
    lines.pop()
recs = [i for i, l in enumerate(lines) if b'"kind"' not in l]
name = "/".join(path.split("/")[-2:])
i = recs[9]
seq = json.loads(lines[i])["seq"]
if mode == "edit":
    lines[i] = lines[i].replace(b'"debtor":"', b'"debtor":"X', 1)
    print(f"{name}:{i + 1}: record seq {seq} edited")
elif mode == "delete":
    del lines[i]
    print(f"record seq {seq} removed")
elif mode == "swap":
    j = recs[10]
    assert j == i + 1, "records 10 and 11 not adjacent"
    lines[i], lines[j] = lines[j], lines[i]
    print(f"{name}:{i + 1}: record seq {seq + 1} reordered")
elif mode in ("append", "after"):
    last = json.loads(lines[-1])
    forged = json.loads(lines[recs[-1]])
    forged["seq"] = last["seq"] + 1
    forged["prev"] = hashlib.sha256(lines[-1]).hexdigest()
    forged["job"] = "forged"
    forged["id"] = "9999999999999-0"
    lines.append(json.dumps(forged, separators=(",", ":")).encode())
    if mode == "append":
        print(f"{name}:{len(lines)}: records from seq {forged['seq']} on are covered by no seal")
    else:
        print(f"{name}:{len(lines)}: record seq {forged['seq']} appended after the segment's checkpoint")
open(path, "wb").write(b"\n".join(lines) + b"\n")
