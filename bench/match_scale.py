#!/usr/bin/env python3
"""A large FEBRL-shaped input for the matching driver's throughput, not for
accuracy: people made of FEBRL3's values recombined at random (given name,
surname, street, suburb, state from the file's own pools; birth date,
identifier, street number and postcode drawn), a third of them with a
second record that has one typo in one field.  Seeded.

    bench/match_scale.py FEBRL3.csv N OUT.csv"""
import csv
import random
import sys


def typo(rng, s):
    if len(s) < 2:
        return s + "x"
    i = rng.randrange(len(s) - 1)
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def main():
    src, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    rng = random.Random(1)
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    pools = {k: sorted({r[k] for r in rows if r[k]}) for k in
             ["given_name", "surname", "address_1", "address_2", "suburb", "state"]}
    fields = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb",
              "postcode", "state", "date_of_birth", "soc_sec_id"]
    with open(out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["id", "truth", "source"] + fields)
        k = 0
        person = 0
        while k < n:
            rec = {c: rng.choice(pools[c]) for c in pools}
            rec["street_number"] = str(rng.randint(1, 300))
            rec["postcode"] = str(rng.randint(2000, 7999))
            rec["date_of_birth"] = "%04d%02d%02d" % (rng.randint(1920, 2005), rng.randint(1, 12),
                                                     rng.randint(1, 28))
            rec["soc_sec_id"] = str(rng.randint(1000000, 9999999))
            copies = 2 if rng.random() < 1 / 3 else 1
            for c in range(min(copies, n - k)):
                r = dict(rec)
                if c:
                    fld = rng.choice(fields)
                    r[fld] = typo(rng, r[fld])
                w.writerow([f"r{k}", f"p{person}", "a"] + [r[x] for x in fields])
                k += 1
            person += 1


if __name__ == "__main__":
    main()
