# Sourced by the other scripts: where set-up put NVRTC, and a quiet Mesa.
SLIMMABLE_CACHE="${SLIMMABLE_CACHE:-$HOME/.cache/slimmable}"
NVRTC_LIB="$SLIMMABLE_CACHE/nvrtc-13.0.88/nvidia/cu13/lib"
if [ -d "$NVRTC_LIB" ]; then
    export LD_LIBRARY_PATH="$NVRTC_LIB${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
