"""tests/integration/elec2_avro.py - Elec2's CSV rows as records of
schemas/elec2.avsc, for the tests that write them into Avro containers
with fastavro (test_train_avro.sh, test_produce_avro.sh): the two build
the same records, each with its own ids. Imported from the repo root."""
import csv
import gzip
import json


def elec2_schema():
    """schemas/elec2.avsc, parsed as JSON."""
    with open("schemas/elec2.avsc") as f:
        return json.load(f)


def elec2_records(id_prefix, limit=None):
    """The first limit rows (every row without it) as records whose
    event_id is id_prefix-N, N counting rows from 1."""
    records = []
    with gzip.open("data/elec2/electricity.csv.gz", "rt") as f:
        for n, r in enumerate(csv.DictReader(f), 1):
            if limit is not None and n > limit:
                break
            records.append({"event_id": f"{id_prefix}-{n}",
                            "date": float(r["date"]), "day": int(r["day"]),
                            "period": float(r["period"]),
                            "nswprice": float(r["nswprice"]),
                            "nswdemand": float(r["nswdemand"]),
                            "vicprice": float(r["vicprice"]),
                            "vicdemand": float(r["vicdemand"]),
                            "transfer": float(r["transfer"]),
                            "class": r["class"]})
    return records
