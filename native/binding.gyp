{
  "targets": [
    {
      "target_name": "berth_native",
      "sources": ["berth.c"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
