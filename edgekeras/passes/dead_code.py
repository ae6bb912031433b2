"""Remove nodes whose outputs nothing reads (graph outputs count as reads): what other passes leave
behind (a transpose whose readers moved, a folded-away producer), so they need not clean up."""


def run(graph):
    live = {id(v) for v in graph.outputs}
    kept = []
    for node in reversed(graph.nodes):
        if any(id(v) in live for v in node.outputs):
            kept.append(node)
            live.update(id(v) for v in node.inputs)
    graph.nodes = kept[::-1]
    return graph
