#!/usr/bin/env python3
"""Builds a kustomization the way `kubectl kustomize` does for the subset the manifests
use (resources, patches with strategic merge), so that tests need no kubectl.
Usage: render.py DIR  -> a JSON array of the objects on stdout; errors name the file."""
import json
import os
import sys

import yaml

KNOWN_KEYS = {"apiVersion", "kind", "resources", "patches"}
# Lists merged by a key in strategic merge patches (the Kubernetes types' patchMergeKey);
# any other list is replaced, as kustomize does.
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name",
              "volumes": "name", "volumeMounts": "mountPath", "ports": "containerPort"}


class RenderError(Exception):
    pass


def load_docs(path):
    if not os.path.isfile(path):
        raise RenderError(f"{path}: listed but missing")
    with open(path) as f:
        try:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        except yaml.YAMLError as e:
            raise RenderError(f"{path}: not YAML: {e}")
    for i, d in enumerate(docs):
        if not isinstance(d, dict) or not d.get("kind") or not d.get("apiVersion") \
                or not isinstance(d.get("metadata"), dict) or not d["metadata"].get("name"):
            raise RenderError(f"{path}: document {i + 1} lacks apiVersion, kind or metadata.name")
    return docs


def merge(base, patch, where):
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = merge_field(k, out[k], v, f"{where}.{k}")
            else:
                out[k] = v
        return out
    return patch


def merge_field(key, base, patch, where):
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        mk = MERGE_KEYS[key]
        out = list(base)
        for item in patch:
            if not isinstance(item, dict) or mk not in item:
                raise RenderError(f"{where}: an item lacks its merge key '{mk}'")
            for i, b in enumerate(out):
                if isinstance(b, dict) and b.get(mk) == item[mk]:
                    out[i] = merge(b, item, f"{where}[{mk}={item[mk]}]")
                    break
            else:
                out.append(item)
        return out
    return merge(base, patch, where)


def ident(obj):
    md = obj["metadata"]
    return (obj["kind"], md.get("namespace", ""), md["name"])


def build(d):
    kpath = os.path.join(d, "kustomization.yaml")
    if not os.path.isfile(kpath):
        raise RenderError(f"{d}: no kustomization.yaml")
    with open(kpath) as f:
        k = yaml.safe_load(f) or {}
    unknown = set(k) - KNOWN_KEYS
    if unknown:
        raise RenderError(f"{kpath}: fields this renderer does not implement: {sorted(unknown)}")
    objs = []
    for r in k.get("resources", []):
        p = os.path.normpath(os.path.join(d, r))
        objs.extend(build(p) if os.path.isdir(p) else load_docs(p))
    seen = set()
    for o in objs:
        if ident(o) in seen:
            raise RenderError(f"{kpath}: {ident(o)} defined twice")
        seen.add(ident(o))
    for entry in k.get("patches", []):
        if not isinstance(entry, dict) or set(entry) != {"path"}:
            raise RenderError(f"{kpath}: only 'patches: - path: FILE' is implemented")
        p = os.path.join(d, entry["path"])
        for patch in load_docs(p):
            for i, o in enumerate(objs):
                if ident(o) == ident(patch):
                    objs[i] = merge(o, patch, f"{p}")
                    break
            else:
                raise RenderError(f"{p}: patches {ident(patch)}, which no resource defines")
    return objs


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: render.py KUSTOMIZATION_DIR")
    try:
        objs = build(sys.argv[1])
    except RenderError as e:
        sys.exit(f"render: {e}")
    json.dump(objs, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
