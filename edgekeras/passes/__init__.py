"""Graph-to-graph optimization passes, one per module, each `run(graph) -> graph`; pipeline.py groups
them into named phases."""
