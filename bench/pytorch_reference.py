#!/usr/bin/python3
"""Training and inference throughput of BN Lab's presets in PyTorch, measured as bnlab-bench measures ours.

  /usr/bin/python3 bench/pytorch_reference.py [--preset NAME]... [--batch N]... [--threads N]...
                   [--mode train|infer|both] [--seconds S] [--repeats R] [--json] [--quick] [--system-blas]

Same networks as the presets (bench/pytorch_accuracy.py builds them: layers, BN placement, momentum and
epsilon, initialiser, optimizer), float32. As bnlab-bench does: one fixed batch of real MNIST training
images (pixels / 255), 3 warm-up steps, then steps for at least --seconds (and 3 steps), samples/s; --repeats
such measurements give min, median and max. A training step is zero_grad(set_to_none) + forward +
cross-entropy + backward + optimizer step; inference is a forward in eval mode under no_grad.

Debian's python3-torch uses the slow reference BLAS unless OpenBLAS is put first on LD_LIBRARY_PATH; or the
system's alternatives already choose it; this script re-executes itself with LD_LIBRARY_PATH pointing at the
folder `dpkg -L libopenblas0-openmp` lists (unless --system-blas) and says which BLAS library torch has
loaded. Convolutions go through oneDNN (mkldnn) when torch has it, whatever the BLAS.

Each thread count is measured in a process of its own (OMP_NUM_THREADS set before torch is imported):
changing torch's thread count within a process left 2 threads at 135 samples/s on bn-paper-mlp after
1 thread had run, against about 50,000 in a fresh process.
"""
import argparse, json, os, subprocess, sys, time

PRESETS = ['bn-paper-mlp', 'bn-paper-mlp-nobn', 'keras-cnn', 'keras-cnn-nobn']


def openblas_dir():
    """The openblas-openmp folder of Debian's libopenblas0-openmp, or None when it is not installed."""
    try:
        files = subprocess.run(['dpkg', '-L', 'libopenblas0-openmp'], capture_output=True, text=True).stdout.split()
    except OSError:
        return None
    blas = [f for f in files if f.endswith('/libblas.so.3') and os.path.exists(f)]
    return os.path.dirname(blas[0]) if blas else None


def ensure_openblas(args):
    """Re-executes this script with OpenBLAS first on LD_LIBRARY_PATH (the loader reads it only at start)."""
    if args.system_blas or os.environ.get('BNLAB_TORCH_BLAS_SET'):
        return
    folder = openblas_dir()
    if folder is None:
        print('pytorch_reference: libopenblas0-openmp is not installed; torch uses its default BLAS '
              '(apt-get install -y libopenblas0-openmp)', file=sys.stderr)
        return
    env = dict(os.environ, BNLAB_TORCH_BLAS_SET='1')
    env['LD_LIBRARY_PATH'] = folder + (':' + env['LD_LIBRARY_PATH'] if env.get('LD_LIBRARY_PATH') else '')
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def loaded_blas():
    """The BLAS libraries mapped into this process (after a matrix product has run)."""
    with open('/proc/self/maps') as f:
        paths = {line.split()[-1] for line in f if 'blas' in line.rsplit('/', 1)[-1]}
    return sorted(p for p in paths if p.startswith('/'))


def peak_memory_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1]) / 1024
    return 0.0


def measure(step, batch, seconds):
    """As bnlab-bench: 3 warm-up steps, then at least `seconds` and 3 steps; samples/s."""
    for _ in range(3):
        step()
    t0 = time.perf_counter()
    steps, elapsed = 0, 0.0
    while elapsed < seconds or steps < 3:
        step()
        steps += 1
        elapsed = time.perf_counter() - t0
    return steps * batch / elapsed


def gemm_gflops(torch, n=1024, seconds=0.5):
    """GFLOP/s of an n³ float32 product (torch.mm, i.e. the BLAS) at the current thread count."""
    a, b = torch.rand(n, n), torch.rand(n, n)
    rate = measure(lambda: torch.mm(a, b), 1, seconds)
    return 2.0 * n ** 3 * rate / 1e9


def parse():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--preset', action='append', choices=PRESETS)
    p.add_argument('--batch', action='append', type=int)
    p.add_argument('--threads', action='append', type=int)
    p.add_argument('--mode', choices=['train', 'infer', 'both'], default='both')
    p.add_argument('--seconds', type=float, default=1.0)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--json', action='store_true', help='one JSON object per line')
    p.add_argument('--quick', action='store_true', help='bn-paper-mlp batch 60 and keras-cnn batch 128, 0.3 s x 3')
    p.add_argument('--system-blas', action='store_true', help='leave LD_LIBRARY_PATH alone (the libblas.so.3 '
                   "that the system's alternatives choose)")
    p.add_argument('--data', default=os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'datasets', 'mnist'))
    a = p.parse_args()
    if a.quick:
        a.seconds = min(a.seconds, 0.3)
    a.presets = a.preset or PRESETS
    a.batches = a.batch or [8, 32, 60, 128]
    a.threads = a.threads or [1, 2]
    return a


def configurations(a):
    """(preset, batch) pairs to measure; --quick keeps each preset's own batch size."""
    for preset in a.presets:
        own = 60 if preset.startswith('bn-paper-mlp') else 128
        for batch in ([own] if a.quick and not a.batch else a.batches):
            yield preset, batch


def without_threads(argv):
    """The command line without its --threads options."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == '--threads':
            skip = True
        elif not arg.startswith('--threads='):
            out.append(arg)
    return out


def main():
    a = parse()
    ensure_openblas(a)
    if len(a.threads) > 1:
        for threads in a.threads:
            subprocess.run([sys.executable, os.path.abspath(__file__)] + without_threads(sys.argv[1:]) +
                           ['--threads', str(threads)], check=True)
        return
    os.environ['OMP_NUM_THREADS'] = str(a.threads[0])
    import numpy as np
    import torch
    import torch.nn as nn
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pytorch_accuracy import build, idx, initialise, optimizer

    images = idx(os.path.join(a.data, 'train-images-idx3-ubyte.gz'))[:55000]
    labels = idx(os.path.join(a.data, 'train-labels-idx1-ubyte.gz'))[:55000]
    rng = np.random.default_rng(7)
    modes = ['train', 'infer'] if a.mode == 'both' else [a.mode]
    out = sys.stdout
    torch.set_num_threads(1)
    torch.mm(torch.rand(64, 64), torch.rand(64, 64))
    info = {'implementation': 'pytorch', 'torch': torch.__version__, 'blas': loaded_blas(),
            'mkldnn': bool(torch.backends.mkldnn.is_available())}
    if a.json:
        print(json.dumps({'kind': 'info', **info}), file=out, flush=True)
    else:
        print(f"torch {info['torch']}, BLAS {', '.join(info['blas']) or 'built in'}, "
              f"oneDNN for convolutions: {'yes' if info['mkldnn'] else 'no'}")
        print(f"{'preset':<20} {'batch':>6} {'threads':>7} {'mode':>6} {'min':>12} {'median':>12} {'max':>12}")
    for threads in a.threads:
        torch.set_num_threads(threads)
        if torch.get_num_threads() != threads:
            raise SystemExit(f'pytorch_reference: torch runs {torch.get_num_threads()} threads, not {threads}')
        gemm = gemm_gflops(torch, seconds=0.2 if a.quick else 0.5)
        if a.json:
            print(json.dumps({'kind': 'gemm', 'implementation': 'pytorch', 'threads': threads,
                                            'size': 1024, 'gflops': gemm}), file=out, flush=True)
        else:
            print(f'1024³ GEMM (torch.mm), {threads} thread(s): {gemm:.1f} GFLOP/s')
        for preset, batch in configurations(a):
            mlp = preset.startswith('bn-paper-mlp')
            norm = 'none' if preset.endswith('-nobn') else ('before' if mlp else 'after')
            pick = rng.choice(len(images), batch, replace=False)
            x = torch.tensor(images[pick].astype(np.float32) / 255).unsqueeze(1)
            y = torch.tensor(labels[pick].astype(np.int64))
            for mode in modes:
                torch.manual_seed(1)
                model = build(preset, norm, 0.99, 1e-3)
                initialise(model, 'glorot' if mlp else 'he')
                opt = optimizer(model, mlp, 0.1 if mlp else 1e-3)
                loss_fn = nn.CrossEntropyLoss()

                def train_step():
                    opt.zero_grad(set_to_none=True)
                    loss_fn(model(x), y).backward()
                    opt.step()

                def infer_step():
                    with torch.no_grad():
                        model(x)

                model.train(mode == 'train')
                step = train_step if mode == 'train' else infer_step
                rates = sorted(measure(step, batch, a.seconds) for _ in range(a.repeats))
                s = {'min': rates[0], 'median': rates[len(rates) // 2], 'max': rates[-1]}
                if a.json:
                    print(json.dumps({
                        'kind': 'throughput', 'implementation': 'pytorch', 'preset': preset, 'batch_size': batch,
                        'threads': threads, 'mode': mode, 'samples_per_second': s,
                        'peak_memory_mb': peak_memory_mb()}), file=out, flush=True)
                else:
                    print(f"{preset:<20} {batch:>6} {threads:>7} {mode:>6} {s['min']:>12.0f} {s['median']:>12.0f} "
                          f"{s['max']:>12.0f}", flush=True)
    if not a.json:
        print(f'samples/s over {a.repeats} repeats of {a.seconds:.1f} s; peak memory {peak_memory_mb():.0f} MB')


if __name__ == '__main__':
    main()
