#!/usr/bin/python3
"""Watches a live sweep output from Python: the recipe of the README's "Reading a live run".

    scripts/poll_live.py results/quickstart.h5 [--interval 2] [--once]

Prints a line whenever the run has moved on (chunks done and failed, the mean of each scalar
output over the points done so far), and ends once no chunk is pending.

The file is opened afresh at every poll, and closed. A handle kept open across polls sees frozen
values: HDF5 caches the raw data of small contiguous datasets in an open file, and sweep's workers
write around HDF5 (netCDF4-python and xarray's netcdf4 engine show this). h5py, and h5netcdf with
cache=False, read the bytes again; reopening works with every reader.
"""
import argparse
import sys
import time

import xarray as xr


def poll(path):
    """(done, failed, chunks, {output: mean over the points done}) as the file says now."""
    with xr.open_dataset(path, group="chunks", engine="h5netcdf", cache=False) as chunks:
        status = chunks.status.values
    with xr.open_dataset(path, engine="h5netcdf", cache=False) as ds:
        outputs = [str(name) for name in ds.attrs["outputs"]]
        sweep_dims = set(str(d) for d in ds.attrs["sweep_dims"])
        means = {name: float(ds[name].mean(skipna=True)) for name in outputs
                 if set(ds[name].dims) <= sweep_dims}  # scalar outputs
    return int((status == 1).sum()), int((status == 2).sum()), int(status.size), means


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--once", action="store_true", help="print the state once and end")
    args = parser.parse_args()
    last = None
    while True:
        done, failed, chunks, means = poll(args.output)
        line = f"done {done}/{chunks} chunks, {failed} failed" + "".join(
            f"; mean {name} = {value:.6g}" for name, value in means.items())
        if line != last:
            print(line, flush=True)
            last = line
        if args.once or done + failed == chunks:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
