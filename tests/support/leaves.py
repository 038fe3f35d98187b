"""Results-tree leaves for tests: no chain, no brownie."""

import random

from crowdstake.results.merkle import Leaf, model_id


def model(name):
    return model_id(name)


def random_leaves(n, seed):
    rng = random.Random(seed)
    return [
        Leaf(rng.randrange(1, 2**64), "0x" + rng.randbytes(20).hex(), rng.randbytes(32), rng.randrange(-(2**63), 2**63))
        for _ in range(n)
    ]
