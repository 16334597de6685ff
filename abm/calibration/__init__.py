"""Calibration to empirical targets: targets files, statistics, the fit table, and Optuna studies."""
