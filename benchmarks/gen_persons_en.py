"""English-style synthetic person records with ground truth, for benchmarking deduplication.

Written from the wording of issue 10 ("households, twins, typos"), not from any matcher's spec: people
live in households that share a surname (mostly), an address and a landline, where no two members share
a first name; some households have twins
(same birth date, same surname and address, different first names); first names and surnames follow
skewed frequencies, so namesakes are common at scale; every person appears in 1 to ~8 records, each of
which may carry typos, nicknames, swapped names, day/month swaps, a moved address, a changed or missing
phone and missing values.

    python benchmarks/gen_persons_en.py 100000 /tmp/persons_en_100k.parquet [--seed 1]

Columns: record_id, first_name, surname, dob (ISO text), gender, address, town, postcode, phone, email,
person_id (truth), household_id (truth).
"""

from __future__ import annotations

import argparse
import string
import sys

import numpy as np
import polars as pl
from faker.providers.address.en_GB import Provider as Address
from faker.providers.person.en_GB import Provider as Person

NICKNAMES = {
    "William": "Bill", "Robert": "Bob", "Richard": "Dick", "James": "Jim", "John": "Jack", "Thomas": "Tom",
    "Michael": "Mike", "Christopher": "Chris", "Daniel": "Dan", "Matthew": "Matt", "Anthony": "Tony",
    "Joseph": "Joe", "Edward": "Ted", "Margaret": "Maggie", "Elizabeth": "Liz", "Katherine": "Kate",
    "Jennifer": "Jen", "Susan": "Sue", "Rebecca": "Becky", "Samantha": "Sam", "Alexander": "Alex",
    "Benjamin": "Ben", "Nicholas": "Nick", "Jonathan": "Jon", "Victoria": "Vicky", "Deborah": "Debbie",
}  # fmt: skip
DOMAINS = ["gmail.com", "hotmail.co.uk", "yahoo.co.uk", "outlook.com", "btinternet.com"]


def _zipf_choice(rng: np.random.Generator, items: list[str], n: int, a: float = 1.1) -> np.ndarray:
    """Draw with frequency ∝ 1/rank^a: a few very common values, a long tail."""
    w = 1.0 / np.arange(1, len(items) + 1) ** a
    return np.asarray(items, dtype=object)[rng.choice(len(items), size=n, p=w / w.sum())]


def _typo(rng: np.random.Generator, s: str) -> str:
    if len(s) < 2:
        return s
    i = int(rng.integers(0, len(s) - 1))
    kind = rng.integers(0, 4)
    if kind == 0:  # substitution
        return s[:i] + rng.choice(list(string.ascii_lowercase)) + s[i + 1 :]
    if kind == 1:  # transposition
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if kind == 2:  # deletion
        return s[:i] + s[i + 1 :]
    return s[:i] + rng.choice(list(string.ascii_lowercase)) + s[i:]  # insertion


def _postcode(rng: np.random.Generator, n: int) -> np.ndarray:
    letters = np.array(list(string.ascii_uppercase))
    a = letters[rng.integers(0, 26, (n, 2))]
    d = rng.integers(1, 30, n)
    e = rng.integers(0, 10, n)
    f = letters[rng.integers(0, 26, (n, 2))]
    return np.array(
        [f"{x[0]}{x[1]}{y} {z}{w[0]}{w[1]}" for x, y, z, w in zip(a, d, e, f, strict=True)], dtype=object
    )


def generate(n_records: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n_persons = max(1, int(n_records / 2.6))
    # households of 1-6 people
    sizes = np.minimum(rng.geometric(0.45, size=n_persons), 6)
    hh_of = np.repeat(np.arange(len(sizes)), sizes)[:n_persons]
    n_hh = int(hh_of.max()) + 1
    surnames = list(Person.last_names)
    towns = [f"{p}{s}" for p in ("Ash", "Brook", "Clay", "Dun", "Elm", "Fair", "Glen", "High", "King", "Long",
                                   "Mill", "New", "Oak", "Red", "Stan", "West", "Wood", "York", "Hart", "Bel")
             for s in ("ton", "ford", "bury", "ham", "field", "wick", "ley", "worth")]  # fmt: skip
    streets = [f"{w} {s}" for w in surnames[:300] for s in Address.street_suffixes[:40]]
    hh_surname = _zipf_choice(rng, surnames, n_hh, 0.9)
    hh_town_idx = rng.integers(0, len(towns), n_hh)
    hh_postcode = _postcode(rng, n_hh)
    hh_address = np.array(
        [
            f"{k} {s}"
            for k, s in zip(rng.integers(1, 400, n_hh), _zipf_choice(rng, streets, n_hh, 0.6), strict=True)
        ],
        dtype=object,
    )
    hh_landline = np.where(rng.random(n_hh) < 0.6, [f"01{x:09d}" for x in rng.integers(0, 10**9, n_hh)], None)

    gender = np.where(rng.random(n_persons) < 0.5, "M", "F")
    male, female = list(Person.first_names_male), list(Person.first_names_female)
    first = np.where(gender == "M", _zipf_choice(rng, male, n_persons), _zipf_choice(rng, female, n_persons))
    # parents do not give two of their children the same first name: redraw within a household
    for _ in range(20):
        key = pl.DataFrame({"h": hh_of, "f": first})
        dup = key.select(pl.struct("h", "f").is_first_distinct().not_()).to_series().to_numpy()
        if not dup.any():
            break
        redraw = np.where(gender[dup] == "M", _zipf_choice(rng, male, int(dup.sum())),
                          _zipf_choice(rng, female, int(dup.sum())))  # fmt: skip
        first[dup] = redraw
    # a partner keeps their own surname one time in five
    own = rng.random(n_persons) < 0.15
    surname = np.where(own, _zipf_choice(rng, surnames, n_persons, 0.9), hh_surname[hh_of])
    dob = np.datetime64("1935-01-01") + rng.integers(0, 365 * 85, n_persons).astype("timedelta64[D]")
    # twins: in one household in 25 with two or more people, the second person is the first one's twin
    first_in_hh = np.r_[True, hh_of[1:] != hh_of[:-1]]
    second = np.r_[False, first_in_hh[:-1]] & ~first_in_hh
    twin = second & (rng.random(n_persons) < 0.04)
    idx = np.flatnonzero(twin)
    dob[idx] = dob[idx - 1]
    surname[idx] = surname[idx - 1]
    mobile = np.where(
        rng.random(n_persons) < 0.75, [f"07{x:09d}" for x in rng.integers(0, 10**9, n_persons)], None
    )

    # records per person: 1 + geometric
    reps = np.minimum(rng.geometric(0.45, size=n_persons), 8)
    scale = n_records / reps.sum()
    reps = np.maximum(1, np.round(reps * scale).astype(int))
    pid = np.repeat(np.arange(n_persons), reps)[:n_records]
    n = len(pid)
    hh = hh_of[pid]
    rows: dict[str, list] = {k: [] for k in ("first_name", "surname", "dob", "gender", "address", "town",
                                              "postcode", "phone", "email")}  # fmt: skip
    r = rng.random((n, 14))
    moved_address = np.array(
        [
            f"{k} {s}"
            for k, s in zip(rng.integers(1, 400, n), _zipf_choice(rng, streets, n, 0.6), strict=True)
        ],
        dtype=object,
    )
    moved_postcode = _postcode(rng, n)
    moved_town = rng.integers(0, len(towns), n)
    for i in range(n):
        p, h, q = pid[i], hh[i], r[i]
        fn, sn = str(first[p]), str(surname[p])
        if q[0] < 0.05 and fn in NICKNAMES:
            fn = NICKNAMES[fn]
        if q[1] < 0.06:
            fn = _typo(rng, fn)
        if q[2] < 0.06:
            sn = _typo(rng, sn)
        if q[3] < 0.01:
            fn, sn = sn, fn
        if q[4] < 0.03:
            fn, sn = fn.upper(), sn.upper()
        d = str(dob[p])
        if q[5] < 0.02 and int(d[8:]) <= 12:
            d = f"{d[:5]}{d[8:]}-{d[5:7]}"  # day and month swapped
        elif q[5] < 0.05:
            k = int(rng.choice([2, 3, 5, 6, 8, 9]))
            d = d[:k] + str(rng.integers(0, 10)) + d[k + 1 :]
            d = d if _valid_date(d) else str(dob[p])
        elif q[5] < 0.09:
            d = None
        if q[6] < 0.12:  # moved
            addr, town, pc = moved_address[i], towns[moved_town[i]], moved_postcode[i]
        else:
            addr, town, pc = hh_address[h], towns[hh_town_idx[h]], hh_postcode[h]
        if q[7] < 0.04:
            addr = _typo(rng, addr)
        if q[8] < 0.03:
            pc = pc[:-1] + rng.choice(list(string.ascii_uppercase))
        if q[9] < 0.06:
            addr = None
        if q[10] < 0.05:
            pc = None
        phone = mobile[p] if q[11] < 0.6 else hh_landline[h]
        if q[12] < 0.25:
            phone = None
        email = None
        if q[13] < 0.5:
            # a person's own address: unique, as mailbox providers make it
            email = f"{first[p].lower()}.{surname[p].lower()}{p % 9973}@{DOMAINS[p % 5]}"
        for k, v in zip(rows, (fn, sn, d, str(gender[p]) if q[2] > 0.03 else None, addr, town, pc, phone, email),
                        strict=True):  # fmt: skip
            rows[k].append(v)
    out = pl.DataFrame({k: pl.Series(k, v, dtype=pl.String) for k, v in rows.items()})
    order = rng.permutation(n)
    return (
        out.with_columns(
            pl.Series("person_id", [f"p{x}" for x in pid]),
            pl.Series("household_id", [f"h{x}" for x in hh]),
        )[order]
        .with_row_index("record_id")
        .with_columns(pl.format("r{}", pl.col("record_id")).alias("record_id"))
    )


def _valid_date(s: str) -> bool:
    try:
        np.datetime64(s)
    except ValueError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("records", type=int)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    frame = generate(args.records, args.seed)
    frame.write_parquet(args.out)
    print(f"{frame.height:,} records of {frame['person_id'].n_unique():,} persons -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
