"""Statistics, figures and a report from sweep results; never runs simulations."""
