/**
 * Assignment of detections to tracks on a cost matrix (rows = tracks, columns = detections). Pairs costing more than
 * `maxCost` are never matched. `hungarian` minimises the total cost (Kuhn-Munkres with potentials, O(n^2 m));
 * `greedy` takes the cheapest free pair first, which is what SORT-style trackers do when CPU is short.
 */

export interface Assignment {
  matches: [row: number, column: number][];
  unmatchedRows: number[];
  unmatchedColumns: number[];
}

function unmatched(n: number, used: ReadonlySet<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (!used.has(i)) out.push(i);
  return out;
}

function result(rows: number, columns: number, matches: [number, number][]): Assignment {
  return {
    matches,
    unmatchedRows: unmatched(rows, new Set(matches.map((m) => m[0]))),
    unmatchedColumns: unmatched(columns, new Set(matches.map((m) => m[1]))),
  };
}

export function greedy(cost: readonly (readonly number[])[], columns: number, maxCost: number): Assignment {
  const pairs: [number, number, number][] = [];
  cost.forEach((row, i) => {
    row.forEach((c, j) => {
      if (c <= maxCost) pairs.push([c, i, j]);
    });
  });
  pairs.sort((a, b) => a[0] - b[0]);
  const rowsUsed = new Set<number>();
  const columnsUsed = new Set<number>();
  const matches: [number, number][] = [];
  for (const [, i, j] of pairs) {
    if (rowsUsed.has(i) || columnsUsed.has(j)) continue;
    rowsUsed.add(i);
    columnsUsed.add(j);
    matches.push([i, j]);
  }
  return result(cost.length, columns, matches);
}

export function hungarian(cost: readonly (readonly number[])[], columns: number, maxCost: number): Assignment {
  const rows = cost.length;
  if (rows === 0 || columns === 0) return result(rows, columns, []);
  // Square it: forbidden pairs and padding cost more than any allowed matching, so they are only taken when nothing
  // else is left, and dropped afterwards.
  const n = Math.max(rows, columns);
  const big = (maxCost + 1) * (n + 1);
  const at = (i: number, j: number): number => {
    const c = i < rows && j < columns ? (cost[i]![j] ?? big) : big;
    return c <= maxCost ? c : big;
  };
  const u = new Float64Array(n + 1);
  const v = new Float64Array(n + 1);
  const p = new Int32Array(n + 1); // p[j] = row (1-based) assigned to column j
  const way = new Int32Array(n + 1);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Float64Array(n + 1).fill(Number.POSITIVE_INFINITY);
    const used = new Uint8Array(n + 1);
    do {
      used[j0] = 1;
      const i0 = p[j0]!;
      let delta = Number.POSITIVE_INFINITY;
      let j1 = 0;
      for (let j = 1; j <= n; j++) {
        if (used[j]) continue;
        const cur = at(i0 - 1, j - 1) - u[i0]! - v[j]!;
        if (cur < minv[j]!) {
          minv[j] = cur;
          way[j] = j0;
        }
        if (minv[j]! < delta) {
          delta = minv[j]!;
          j1 = j;
        }
      }
      for (let j = 0; j <= n; j++) {
        if (used[j]) {
          u[p[j]!] = u[p[j]!]! + delta;
          v[j] = v[j]! - delta;
        } else minv[j] = minv[j]! - delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0]!;
      p[j0] = p[j1]!;
      j0 = j1;
    } while (j0 !== 0);
  }
  const matches: [number, number][] = [];
  for (let j = 1; j <= n; j++) {
    const i = p[j]! - 1;
    if (i >= 0 && i < rows && j - 1 < columns && cost[i]![j - 1]! <= maxCost) matches.push([i, j - 1]);
  }
  matches.sort((a, b) => a[0] - b[0]);
  return result(rows, columns, matches);
}
