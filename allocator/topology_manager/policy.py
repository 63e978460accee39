"""Hint merging shared by the topology manager policies.

Mirrors ``pkg/kubelet/cm/topologymanager/policy.go``: ``filterProvidersHints``, ``mergePermutation``,
``iterateAllProviderTopologyHints``, ``maxOfMinAffinityCounts`` and ``HintMerger`` (``compare`` and
``Merge``).

The kubelet walks the full cross product of every provider's hint list and keeps a running best
hint. ``HintMerger.compare`` is a "keep the better of two" rule over a strict total order of
distinct (affinity, preferred) pairs (preferred first; among preferred the fitter mask; among
non-preferred the size closest to ``best_non_preferred_affinity_count``, then the fitter mask), and
identical candidates keep the current one. The winner therefore depends only on the *set* of merged
candidates, not on the walk order, which lets ``HintMerger.merge`` build that set cheaply (preferred
candidates first: they always win) instead of visiting every permutation. When a comparison could
panic (``prefer-closest-numa-nodes`` with distance rows the kubelet would index out of range) the
faithful walk is used so the panic happens where the kubelet's does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import product

from allocator.hints import TopologyHint
from allocator.topology_manager.numa_info import NUMAInfo
from allocator.topology_manager.policy_options import PolicyOptions

ProvidersHints = Sequence[Mapping[str, "list[TopologyHint] | None"] | None]

_ANY_PREFERRED = TopologyHint(None, True)
_ANY_NOT_PREFERRED = TopologyHint(None, False)


def filter_providers_hints(providers_hints: ProvidersHints) -> list[list[TopologyHint]]:
    """Kubelet ``filterProvidersHints``: one hint list per provider resource.

    A provider with no hints at all, or a resource whose list is nil, means "no preference"
    (``{nil, true}``); an empty list means "no possible affinity" (``{nil, false}``). Resources are
    taken in mapping order (the kubelet walks a Go map).
    """
    all_hints: list[list[TopologyHint]] = []
    for hints in providers_hints:
        if not hints:
            all_hints.append([_ANY_PREFERRED])
            continue
        for resource_hints in hints.values():
            if resource_hints is None:
                all_hints.append([_ANY_PREFERRED])
            elif len(resource_hints) == 0:
                all_hints.append([_ANY_NOT_PREFERRED])
            else:
                all_hints.append(list(resource_hints))
    return all_hints


def merge_permutation(default_affinity: int, permutation: Sequence[TopologyHint]) -> TopologyHint:
    """Kubelet ``mergePermutation``: AND of the affinities; preferred only if every hint is preferred
    and every non-nil affinity equals the first one."""
    preferred = True
    merged = default_affinity
    first: int | None = None
    for hint in permutation:
        mask = hint.numa_affinity
        if mask is not None:
            if first is None:
                first = mask
            elif mask != first:
                preferred = False
            merged &= mask
        if not hint.preferred:
            preferred = False
    return TopologyHint(merged, preferred)


def iterate_all_provider_topology_hints(
    all_provider_hints: Sequence[Sequence[TopologyHint]],
) -> Iterator[tuple[TopologyHint, ...]]:
    """Kubelet ``iterateAllProviderTopologyHints``: the cross product, last provider varying fastest."""
    return product(*all_provider_hints)


def _narrowest_hint(hints: Sequence[TopologyHint]) -> TopologyHint | None:
    """Kubelet ``narrowestHint``: the narrowest non-nil hint (fewest bits, then the lowest mask)."""
    masks = [h.numa_affinity for h in hints if h.numa_affinity is not None]
    if not masks:
        return None
    best = min(masks, key=lambda m: (m.bit_count(), m))
    return next(h for h in hints if h.numa_affinity == best)


def max_of_min_affinity_counts(filtered_hints: Sequence[Sequence[TopologyHint]]) -> int:
    """Kubelet ``maxOfMinAffinityCounts``: the largest of the providers' narrowest affinity sizes."""
    result = 0
    for resource_hints in filtered_hints:
        narrowest = _narrowest_hint(resource_hints)
        if narrowest is None or narrowest.numa_affinity is None:
            continue
        result = max(result, narrowest.numa_affinity.bit_count())
    return result


class HintMerger:
    """Kubelet ``HintMerger`` for one merge: the filtered hints plus the policy's NUMA info and options."""

    __slots__ = ("best_non_preferred_affinity_count", "hints", "numa_info", "use_closest")

    def __init__(
        self, numa_info: NUMAInfo, hints: list[list[TopologyHint]], policy_name: str, opts: PolicyOptions
    ) -> None:
        self.numa_info = numa_info
        self.hints = hints
        self.best_non_preferred_affinity_count = max_of_min_affinity_counts(hints)
        # single-numa-node never reads distances: its masks all have one bit.
        self.use_closest = policy_name != "single-numa-node" and opts.prefer_closest_numa

    # -- the kubelet's pairwise rule -------------------------------------------------------------

    def compare_numa_affinity_masks(self, current: TopologyHint, candidate: TopologyHint) -> TopologyHint:
        """The kubelet's ``CompareNUMAAffinityMasks`` closure: the fitter of two hints, current on ties."""
        cur = current.numa_affinity
        cand = candidate.numa_affinity
        assert cur is not None and cand is not None
        if cand == cur:
            return current
        best = self.numa_info.closest(cur, cand) if self.use_closest else self.numa_info.narrowest(cur, cand)
        return current if best == cur else candidate

    def compare(self, current: TopologyHint | None, candidate: TopologyHint) -> TopologyHint | None:
        """Kubelet ``HintMerger.compare``: the better of the running best and a merged candidate."""
        assert candidate.numa_affinity is not None
        cand_count = candidate.numa_affinity.bit_count()
        if cand_count == 0:
            return current
        if current is None:
            return candidate
        if not current.preferred and candidate.preferred:
            return candidate
        if current.preferred and not candidate.preferred:
            return current
        if current.preferred and candidate.preferred:
            return self.compare_numa_affinity_masks(current, candidate)
        # Both non-preferred: aim for the size of best_non_preferred_affinity_count (cases 1-3cc).
        assert current.numa_affinity is not None
        cur_count = current.numa_affinity.bit_count()
        target = self.best_non_preferred_affinity_count
        if cur_count > target:
            return self.compare_numa_affinity_masks(current, candidate)
        if cur_count == target:
            if cand_count != target:
                return current
            return self.compare_numa_affinity_masks(current, candidate)
        if cand_count > target:
            return current
        if cand_count == target:
            return candidate
        if cand_count > cur_count:
            return candidate
        if cand_count < cur_count:
            return current
        return self.compare_numa_affinity_masks(current, candidate)

    def merge_by_walk(self) -> TopologyHint:
        """Kubelet ``HintMerger.Merge`` verbatim: walk every permutation (used where a compare can panic)."""
        default = self.numa_info.default_mask
        best: TopologyHint | None = None
        for permutation in iterate_all_provider_topology_hints(self.hints):
            best = self.compare(best, merge_permutation(default, permutation))
        return best if best is not None else TopologyHint(default, False)

    # -- the fast, equivalent merge ----------------------------------------------------------------

    def _fitness_key(self) -> Callable[[int], tuple[int, ...]]:
        """Sort key of masks of equal preference under ``compare_numa_affinity_masks`` (smaller wins)."""
        if self.use_closest:
            distance_sum = self.numa_info.distance_sum
            return lambda m: (m.bit_count(), distance_sum(m), m)
        return lambda m: (m.bit_count(), m)

    def merge(self) -> TopologyHint:
        """Kubelet ``HintMerger.Merge``: the best merged hint over all permutations."""
        hints = self.hints
        if self.use_closest and not self.numa_info.distances_complete:
            return self.merge_by_walk()
        default = self.numa_info.default_mask
        if any(len(h) == 0 for h in hints):
            # An empty provider list empties the cross product: nothing to merge.
            return TopologyHint(default, False)
        fitness = self._fitness_key()

        # Preferred candidates: every hint preferred and every non-nil affinity equal. Track the
        # possible "first non-nil affinity" values (None: none seen yet).
        firsts: set[int | None] = {None}
        for resource_hints in hints:
            nil_ok = False
            masks: set[int] = set()
            for h in resource_hints:
                if h.preferred:
                    if h.numa_affinity is None:
                        nil_ok = True
                    else:
                        masks.add(h.numa_affinity)
            nxt: set[int | None] = set(firsts) if nil_ok else set()
            if None in firsts:
                nxt.update(masks)
            nxt.update(m for m in masks if m in firsts)
            firsts = nxt
            if not firsts:
                break
        preferred = {default if f is None else default & f for f in firsts}
        preferred.discard(0)
        if preferred:
            return TopologyHint(min(preferred, key=fitness), True)

        # No preferred candidate: every permutation merges to a non-preferred hint (or to an empty
        # mask, which is skipped). Build the distinct AND results.
        merged: set[int] = {default}
        for resource_hints in hints:
            masks = {default if h.numa_affinity is None else h.numa_affinity for h in resource_hints}
            if len(merged) == 1:
                (acc,) = merged
                merged = {acc & m for m in masks}
            else:
                merged = {acc & m for acc in merged for m in masks}
        merged.discard(0)
        if not merged:
            return TopologyHint(default, False)
        target = self.best_non_preferred_affinity_count

        def key(m: int) -> tuple[int, int, tuple[int, ...]]:
            count = m.bit_count()
            if count == target:
                return (0, 0, fitness(m))
            if count < target:
                return (1, -count, fitness(m))
            return (2, count, fitness(m))

        return TopologyHint(min(merged, key=key), False)


class Policy:
    """Kubelet ``Policy`` interface: ``name`` and ``merge(providers_hints) -> (best hint, admit)``."""

    name: str = ""

    def merge(self, providers_hints: ProvidersHints) -> tuple[TopologyHint, bool]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
