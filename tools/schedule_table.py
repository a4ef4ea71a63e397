"""MutualNet against the full and smallest configs trained alone, per schedule.

Reads FOLDER/{mutualnet,alone-w1.0-r28,alone-w0.25-r16}-<E>ep/results.json
(written by `slimmable train`, see results/2026-11-28-schedule-small-cpu/)
for E in 3, 6, 12 and prints a markdown table of the two configs' top-1
accuracies and their differences.

    python3 tools/schedule_table.py FOLDER
"""
import json, os, sys
if len(sys.argv) != 2:
    sys.exit(__doc__)
d = sys.argv[1]
def top1(path, w, r):
    for c in json.load(open(path))['configs']:
        if abs(c['width'] - w) < 1e-9 and c['resolution'] == r:
            return c['top1']
print('| epochs (of 6400 images) | iterations | MutualNet 1.0×/28 | alone 1.0×/28 | difference | MutualNet 0.25×/16 | alone 0.25×/16 | difference | MutualNet grid mean |')
print('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for e in (3, 6, 12):
    m = f'{d}/mutualnet-{e}ep/results.json'
    a1 = f'{d}/alone-w1.0-r28-{e}ep/results.json'
    a2 = f'{d}/alone-w0.25-r16-{e}ep/results.json'
    if not all(os.path.exists(p) for p in (m, a1, a2)):
        continue
    mf, ms = top1(m, 1.0, 28), top1(m, 0.25, 16)
    af, as_ = top1(a1, 1.0, 28), top1(a2, 0.25, 16)
    grid = [c['top1'] for c in json.load(open(m))['configs']]
    print(f'| {e} | {e*200} | {mf:.2f} | {af:.2f} | {mf-af:+.2f} | {ms:.2f} | {as_:.2f} | {ms-as_:+.2f} | {sum(grid)/len(grid):.2f} |')
