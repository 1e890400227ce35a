"""The engine's foundations: models, schemas, registries, config, clock, errors, events."""
