"""Reading sl.match's `_platform` rows (as a file sink writes them) the way
the platform tables hold them: tests/match/step_case.py and
decisions_case.py share it."""


def survivor_of(plat):
    """A function: entity id -> the entity it was merged into, followed
    through the merged entity rows to the survivor."""
    merged = {r["entity_id"]: r["merged_into"] for r in plat
              if r["_platform"] == "entity" and r["status"] == "merged"}

    def survivor(e):
        seen = set()
        while e in merged and e not in seen:
            seen.add(e)
            e = merged[e]
        return e
    return survivor


def member_entities(plat):
    """src_id -> its entity now: the survivor of the entity of the record's
    latest member row (what the members table holds, and a restore rebuilds
    the clusters from)."""
    survivor = survivor_of(plat)
    last = {}
    for r in plat:
        # Rows of batches from different sources may reach a sink in
        # another order than the step made them: the greatest seq is the
        # latest, as the members table's upsert (newer_by = "seq") keeps it.
        if r["_platform"] == "member" and r["seq"] > last.get(r["src_id"], (0, None))[0]:
            last[r["src_id"]] = (r["seq"], r["entity_id"])
    return {k: survivor(v[1]) for k, v in last.items()}


def clusters_of(entities):
    """entity id -> the set of src_ids in it."""
    clusters = {}
    for rid, e in entities.items():
        clusters.setdefault(e, set()).add(rid)
    return clusters


def stale_entity_rows(plat, clusters):
    """The first entity whose latest row (the highest version) is not
    active with its member count, as (entity, members, row); None if all
    are."""
    latest = {}
    for r in plat:
        if r["_platform"] == "entity" and r["version"] >= latest.get(r["entity_id"], {}).get("version", 0):
            latest[r["entity_id"]] = r
    for e, members in clusters.items():
        row = latest.get(e)
        if not row or row["status"] != "active" or row["members"] != len(members):
            return e, members, row
    return None
