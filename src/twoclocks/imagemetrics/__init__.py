"""Metrics for generated images, pure functions of arrays: the copy criteria and their
measured chance levels (`copies`), the Fréchet distance between feature sets and its floor
(`frechet`), and the agreement of paired samples from two models (`agreement`). None needs a
rule: they judge samples against training images, held-out images and each other."""
