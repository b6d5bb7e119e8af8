{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": ["berth.c", "openat2.c", "service.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
