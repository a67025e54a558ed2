"""The embedded demo: drawn stimuli and simulated subjects with planted truth, written as
ordinary BIDS datasets that the bids-betas and bids-ieeg loaders read."""
