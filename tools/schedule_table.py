"""MutualNet against the full and smallest configs trained alone, per schedule.

Reads FOLDER/{mutualnet,alone-w1.0-r28,alone-w0.25-r16}-<E>ep/results.json
(written by `slimmable train`, see results/2026-11-28-schedule-small-cpu/)
for every E a `mutualnet-<E>ep` folder is there for, and prints a markdown table of the two configs' top-1
accuracies and their differences.

    python3 tools/schedule_table.py FOLDER
"""
import json, os, re, sys
if len(sys.argv) != 2:
    sys.exit(__doc__)
d = sys.argv[1]
def top1(path, w, r):
    for c in json.load(open(path))['configs']:
        if abs(c['width'] - w) < 1e-9 and c['resolution'] == r:
            return c['top1']
epochs = sorted(int(m.group(1)) for m in (re.fullmatch(r'mutualnet-(\d+)ep', n) for n in os.listdir(d)) if m)
if not epochs:
    sys.exit(f'{d}: no mutualnet-<E>ep folder; give the folder that holds the runs')
print('| epochs (of 6400 images) | iterations | MutualNet 1.0×/28 | alone 1.0×/28 | difference | MutualNet 0.25×/16 | alone 0.25×/16 | difference | MutualNet grid mean |')
print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for e in epochs:
    m = f'{d}/mutualnet-{e}ep/results.json'
    a1 = f'{d}/alone-w1.0-r28-{e}ep/results.json'
    a2 = f'{d}/alone-w0.25-r16-{e}ep/results.json'
    if not os.path.exists(m):
        continue
    mf, ms = top1(m, 1.0, 28), top1(m, 0.25, 16)
    # A config trained alone that was not run is "not run", not a number.
    af = top1(a1, 1.0, 28) if os.path.exists(a1) else None
    as_ = top1(a2, 0.25, 16) if os.path.exists(a2) else None
    cell = lambda v: 'not run' if v is None else f'{v:.2f}'
    diff = lambda a, b: 'not run' if b is None else f'{a-b:+.2f}'
    grid = [c['top1'] for c in json.load(open(m))['configs']]
    print(f'| {e} | {e*200} | {mf:.2f} | {cell(af)} | {diff(mf, af)} | {ms:.2f} | {cell(as_)} | {diff(ms, as_)} | {sum(grid)/len(grid):.2f} |')
