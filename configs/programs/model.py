"""A stochastic SIR epidemic, one run per point: the model of configs/python.yaml.

sweep imports this file once per worker and calls `simulate` for every point, passing by name
only what its signature asks for: the point's parameters (`beta`, `gamma`), its `seed`, and the
config's options (`population`, `days`). Whatever it returns lands in the output file, a dict
keyed by the outputs the config declares. Random numbers come only from the point's seed, so a
point gives the same results in any run, on any number of workers.
"""
import numpy as np


def simulate(beta, gamma, seed, population, days, initial=10):
    """Daily steps of a chain-binomial SIR model: each day, every susceptible is infected with
    probability 1 - exp(-beta * I / N), every infected recovers with probability
    1 - exp(-gamma)."""
    rng = np.random.default_rng(seed)
    s, i, r = population - initial, initial, 0
    infected = np.zeros(days)
    p_recover = -np.expm1(-gamma)
    for day in range(days):
        new_infections = rng.binomial(s, -np.expm1(-beta * i / population))
        recoveries = rng.binomial(i, p_recover)
        s -= new_infections
        i += new_infections - recoveries
        r += recoveries
        infected[day] = i / population
    return {
        "peak": infected.max(),              # the largest infected fraction
        "peak_day": int(infected.argmax()),  # the day it was reached
        "attack_rate": r / population,       # who had it by the end
        "infected": infected,                # the whole curve, one value a day
    }
