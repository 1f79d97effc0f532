"""A damped driven pendulum, many points per call: the model of configs/python_batch.yaml.

    theta'' = -q theta' - sin(theta) + A cos(omega_d t)

With `batch: true`, sweep calls `simulate` once per block of points (thousands at a time) with
each parameter as a 1-D numpy column, one value per point of the block, and `out`, a dict of
writable numpy arrays over the block's rows of each output: writing `out["energy"][:] = ...`
puts the results straight into what sweep writes to the file, without a copy. One RK4 integration
runs for every point of the block at once.
"""
import numpy as np


def simulate(A, q, out, steps, dt, omega_d=2.0 / 3.0):
    theta = np.zeros_like(A)
    omega = np.zeros_like(A)

    def rhs(t, theta, omega):
        return omega, -q * omega - np.sin(theta) + A * np.cos(omega_d * t)

    energy = np.zeros_like(A)
    t = 0.0
    for step in range(steps):
        k1t, k1w = rhs(t, theta, omega)
        k2t, k2w = rhs(t + dt / 2, theta + dt / 2 * k1t, omega + dt / 2 * k1w)
        k3t, k3w = rhs(t + dt / 2, theta + dt / 2 * k2t, omega + dt / 2 * k2w)
        k4t, k4w = rhs(t + dt, theta + dt * k3t, omega + dt * k3w)
        theta = theta + dt / 6 * (k1t + 2 * k2t + 2 * k3t + k4t)
        omega = omega + dt / 6 * (k1w + 2 * k2w + 2 * k3w + k4w)
        t += dt
        if step >= steps // 2:  # the second half, past the transient
            energy += 0.5 * omega**2 + 1 - np.cos(theta)
    out["energy"][:] = energy / (steps - steps // 2)  # mean energy on the attractor
    out["omega_final"][:] = omega
    out["turns"][:] = np.round(theta / (2 * np.pi)).astype(np.int64)  # net whole turns
