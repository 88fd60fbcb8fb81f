"""Predicting the clocks of a config before it is trained: laws fitted to finished runs
(`laws`, `tobit`), the reference results shipped with the package (`reference`), one config's
prediction (`predict`), train.steps=auto (`autobudget`), and validation (`validation`)."""
