"""The parity harness: metrics, references and emulators that prove an artifact computes what its model computes."""
