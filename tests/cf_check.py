#!/usr/bin/python3
"""A small CF-1.8 checker for the rules that apply to sweep's output files.

There is no CF checker in Debian, so this checks by rule what io/output_file.h promises:
  conventions  the file's global Conventions names CF-1.8;
  units        every `units` attribute is text that UDUNITS parses (Debian's udunits2 program);
  coordinate   every coordinate variable (one-dimensional, named like its dimension) is numeric,
               strictly monotonic (so its values are unique) and has no _FillValue;
  coordinates  every name in a `coordinates` attribute is a variable of the group or above;
  flags        flag_values and flag_meanings have as many entries, the values are unique and of
               the variable's type, the meanings are words;
  fill         a _FillValue has its variable's type.
Usage: cf_check.py FILE...   Prints each violation as `FILE: RULE: what` and exits 1 if there is
any, else prints `cf ok` with what it checked and exits 0.
"""
import re
import subprocess
import sys

import netCDF4
import numpy as np

_parsed = {}


def udunits_parses(units):
    if units not in _parsed:
        run = subprocess.run(["udunits2", "-H", units, "-W", ""], capture_output=True, text=True,
                             stdin=subprocess.DEVNULL)
        _parsed[units] = run.returncode == 0 and "Don't recognize" not in run.stderr
    return _parsed[units]


def groups(dataset):
    yield dataset
    for child in dataset.groups.values():
        yield from groups(child)


def visible_variables(group):
    names = set()
    while group is not None:
        names.update(group.variables)
        group = group.parent
    return names


def check(path):
    problems, counts = [], {"variables": 0, "units": 0, "coordinates": 0}

    def fail(rule, what):
        problems.append(f"{path}: {rule}: {what}")

    with netCDF4.Dataset(path) as ds:
        conventions = getattr(ds, "Conventions", "")
        if "CF-1.8" not in str(conventions).replace(",", " ").split():
            fail("conventions", f"global Conventions is {conventions!r}, not CF-1.8")
        for group in groups(ds):
            known = visible_variables(group)
            for name, var in group.variables.items():
                counts["variables"] += 1
                where = f"{group.path.rstrip('/')}/{name}"
                attrs = {a: var.getncattr(a) for a in var.ncattrs()}
                if "units" in attrs:
                    counts["units"] += 1
                    units = attrs["units"]
                    if not isinstance(units, str) or not udunits_parses(units):
                        fail("units", f"{where}: UDUNITS does not parse {units!r}")
                if var.dimensions == (name,):
                    counts["coordinates"] += 1
                    if var.dtype.kind not in "iuf":
                        fail("coordinate", f"{where} is a coordinate variable of type {var.dtype}")
                    else:
                        values = np.asarray(var[...].filled(np.nan) if np.ma.isMaskedArray(var[...])
                                            else var[...], dtype=float)
                        steps = np.diff(values)
                        if not (np.all(steps > 0) or np.all(steps < 0)):
                            fail("coordinate", f"{where} is not strictly monotonic (unique)")
                    if "_FillValue" in attrs:
                        fail("coordinate", f"{where} is a coordinate variable with a _FillValue")
                for other in str(attrs.get("coordinates", "")).split():
                    if other not in known:
                        fail("coordinates", f"{where} names {other!r}, which is no variable")
                if "flag_values" in attrs or "flag_meanings" in attrs:
                    values = np.atleast_1d(attrs.get("flag_values", []))
                    meanings = str(attrs.get("flag_meanings", "")).split()
                    if len(values) != len(meanings) or len(values) == 0:
                        fail("flags", f"{where}: {len(values)} flag_values, {len(meanings)} "
                                      "flag_meanings")
                    if len(set(values.tolist())) != len(values):
                        fail("flags", f"{where}: flag_values repeat")
                    if values.dtype != var.dtype:
                        fail("flags", f"{where}: flag_values are {values.dtype}, the variable "
                                      f"{var.dtype}")
                    for word in meanings:
                        if not re.fullmatch(r"[A-Za-z0-9_.+@-]+", word):
                            fail("flags", f"{where}: flag meaning {word!r} is not a word")
                if "_FillValue" in attrs:
                    fill = np.asarray(attrs["_FillValue"])
                    if var.dtype.kind != "S" and fill.dtype != var.dtype:
                        fail("fill", f"{where}: _FillValue is {fill.dtype}, the variable "
                                     f"{var.dtype}")
    return problems, counts


def main(paths):
    problems = []
    for path in paths:
        found, counts = check(path)
        problems += found
        if not found:
            print(f"cf ok: {path}: {counts['variables']} variables, {counts['units']} units, "
                  f"{counts['coordinates']} coordinate variables")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
