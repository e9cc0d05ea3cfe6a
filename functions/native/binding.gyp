{
  "targets": [
    {
      "target_name": "ossferry_native",
      "sources": ["src/ossferry_native.c", "src/crc64_fast.c", "src/md5_mb.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O3", "-std=c11", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "libraries": ["-lisal"],
      "include_dirs": []
    }
  ]
}
