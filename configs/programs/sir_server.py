"""An SIR epidemic as a persistent kernel (configs/persistent.yaml): one process per worker
serves every point over stdin and stdout, with sweep's line protocol stream/1.

Python pays its start and its imports once per worker, not once per point. Each point line gives
the point's parameters; the answer is one JSON line with the point's index and its outputs. Any
other line on stdout (the `print`s below) is log, kept in the worker's log.
"""
import json
import sys

import numpy as np

hello = json.loads(sys.stdin.readline())  # {"sweep": "stream/1", "options", "outputs", "inputs"}
days, steps = hello["options"]["days"], hello["options"]["steps_per_day"]
# Inputs arrive as places to map, never as copies: here the daily contact rates.
place = hello["inputs"]["contacts"]
contacts = np.memmap(place["path"], dtype=place["dtype"], mode="r", offset=place["offset"],
                     shape=tuple(place["shape"]))
print(f"sir_server: {days} days, {steps} steps a day, contacts {contacts.shape}")


def rates(s, i, beta, gamma, c):
    infections = beta * c * s * i
    return -infections, infections - gamma * i


def simulate(beta, gamma, infected0):
    s, i, dt = 1.0 - infected0, infected0, 1.0 / steps
    curve = np.empty(days)
    for day in range(days):
        c = float(contacts[day % contacts.shape[0]])
        for _ in range(steps):  # RK4
            k1 = rates(s, i, beta, gamma, c)
            k2 = rates(s + dt / 2 * k1[0], i + dt / 2 * k1[1], beta, gamma, c)
            k3 = rates(s + dt / 2 * k2[0], i + dt / 2 * k2[1], beta, gamma, c)
            k4 = rates(s + dt * k3[0], i + dt * k3[1], beta, gamma, c)
            s += dt / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
            i += dt / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        curve[day] = i
    return {"peak": curve.max(), "peak_day": int(curve.argmax()), "final_size": 1.0 - s,
            "weekly": curve[6::7][:4].tolist()}


for line in sys.stdin:
    p = json.loads(line)  # {"point": 12, "seed": ..., "beta": 0.3, "gamma": 0.1, "infected0": ...}
    if p["gamma"] <= 0:
        print(json.dumps({"point": p["point"], "error": "gamma must be positive"}), flush=True)
        continue
    result = simulate(p["beta"], p["gamma"], p["infected0"])
    print(json.dumps({"point": p["point"], **result}), flush=True)
