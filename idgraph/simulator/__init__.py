"""Pixel-traffic simulator: a seeded world of people, devices, browsers, cookies and networks.

``simulate`` writes raw pixel JSON Lines per day and the ground truth to a lake; see
``idgraph simulate --help``.
"""

from idgraph.simulator.badrecords import KINDS as BAD_RECORD_KINDS
from idgraph.simulator.run import DayReport, SimulationSummary, simulate

__all__ = ["BAD_RECORD_KINDS", "DayReport", "SimulationSummary", "simulate"]
