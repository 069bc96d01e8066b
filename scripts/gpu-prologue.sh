# Sourced at the start of every device-tool command (see ../shared/gpu/README.md): unpacks the Vulkan
# loader from .gl/, Node to /tmp/node, and the xz-compressed native addons in .gpu-node/ (Dawn's
# dawn.node, node-datachannel's .node), which travel compressed because the whole working tree that
# goes to the GPU machine must stay under 64 MiB. Then `cd .gpu-node && /tmp/node <bundle>.mjs`.
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json NCCL_NVLS_ENABLE=0
xz -dc .gpu-node/node.xz > /tmp/node && chmod +x /tmp/node
find .gpu-node/node_modules -name '*.node.xz' -exec xz -df {} \;
# ONNX Runtime Web's .wasm (bench/ort-webgpu-gpu.ts reads .gpu-node/ort/*.wasm) travels xz-compressed too.
find .gpu-node -name '*.wasm.xz' -exec xz -df {} \;
