# syntax=docker/dockerfile:1
# The lplr CLI for sweeps on clusters (docs/sweeps.md, docs/k8s-indexed-job.yaml):
#   docker build -t lplr .
#   docker run --rm -v "$PWD/sweeps:/sweeps" lplr sweep fig1 --preset tiny --grid width=8,16 --seeds 0-1 --out /sweeps/demo
#   docker run --rm --gpus all -v "$PWD/sweeps:/sweeps" lplr info      # NVIDIA GPU through Vulkan
# On NVIDIA GPUs Dawn uses Vulkan: the NVIDIA container toolkit mounts the driver's Vulkan ICD when
# the 'graphics' capability is requested (set below). Without a GPU, Dawn's OpenGL ES backend runs
# on Mesa's llvmpipe (the CPU).

# Build stage: dev dependencies (esbuild) to bundle the CLI into dist/.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: 'prepare' would build before the sources are copied; the build runs below.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY build.mjs tsconfig.json ./
# Every folder the bundle imports from: the engine, the lab, the WGSL kernels and the benchmarks
# (lplr bench imports bench/), and the WGSL #import resolver that build.mjs uses.
# test/docker-context.test.ts builds from exactly these copies.
COPY src src
COPY harness harness
COPY shaders shaders
COPY bench bench
COPY scripts scripts
RUN node build.mjs

# Runtime stage: the bundle, runtime dependencies (webgpu with Dawn, uplot, the built-in MNIST),
# the Vulkan loader, Mesa's EGL/GLES for the CPU fallback, and tini to pass signals on as PID 1.
FROM node:20-bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libvulkan1 libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY bin bin
COPY --from=build /app/dist dist
ENV NODE_ENV=production \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics \
    LPLR_CACHE_DIR=/tmp/lplr-cache
# The 'node' user (uid 1000) of the base image; give it write access to the sweep volume
# (Kubernetes: securityContext.fsGroup: 1000).
USER node
# Without src/ in the image, bin/lplr.mjs runs the bundle as built (no rebuild check).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/bin/lplr.mjs"]
CMD ["--help"]
