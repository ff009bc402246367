"""The deps engine, in pip-audit's shape.

- `sources/`: one module per kind of dependency file behind `DependencySource`, and the one
  registry (`sources.SOURCES`) that recognises and reads them; `sources/named.py` finds the
  files an MLproject or a dvc.yaml names.
- `services/`: the offline OSV database and pip-audit behind `VulnerabilityService`; a
  service that cannot answer raises `ServiceError` (the gate is `error`).
- `advisorydb.py` (loading and matching an OSV database), `dbupdate.py` (the downloaded
  cache), `cvss.py` (CVSS v3 base scores), `project.py` (locked / library / app),
  `ranges.py` (a library's ranges against the database), `audit.py` (the engine: neutral
  records that `gates/deps.py` turns into findings).
"""
