"""ML Metadata, for the whole product: the one place that talks to it.

`urls` parses, checks and redacts store URLs and makes connection configs;
`store` opens a store (read-only where only reading); `runs` answers what
happened in each run (judged against that run's own nodes), `models` what
was pushed and from what; `resolvers` holds the resolver strategies that
pick the baseline and the warm-start model inside a run.
"""
