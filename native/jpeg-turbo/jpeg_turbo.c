/*
 * A minimal JPEG decoder (and encoder, for annotated answers) binding over the system libjpeg(-turbo), for the pool workers: a synchronous call (the
 * worker thread is already off the event loop, so a hop to the libuv thread pool would only add latency) that
 * decodes straight into a Node Buffer, optionally at 1/2, 1/4 or 1/8 scale (DCT scaling: most of the inverse
 * transform and the colour upsampling are skipped).
 *
 * Every colour space a JPEG can carry (grey, YCbCr, RGB, CMYK, YCCK) is decoded here, so that with the binding built
 * no JPEG goes to another decoder and the answer never depends on which one ran.
 *
 * libjpeg reports fatal errors through error_exit, whose default calls exit(): the error manager below longjmps
 * back instead, so a corrupt body becomes a JavaScript exception and never ends the process.
 */
#include <node_api.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

struct hx_error_mgr {
  struct jpeg_error_mgr pub;
  jmp_buf escape;
  char message[JMSG_LENGTH_MAX];
};

static void hx_error_exit(j_common_ptr cinfo) {
  struct hx_error_mgr *err = (struct hx_error_mgr *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, err->message);
  longjmp(err->escape, 1);
}

/* Warnings: those that mean lost pixel data (the scan ends early, bit errors, a missing restart marker, a broken
 * progression) are errors, since libjpeg would fill the gap with grey and the processor would answer on a partly
 * fabricated frame; the same list the libvips fallback refuses (src/inference/decode.ts JPEG_DATA_LOSS). A body that
 * ends before its EOI marker is among them (JWRN_JPEG_EOF): see docs/operations.md, "Damaged images". Other warnings
 * (extraneous bytes between markers and the like) are common in camera output and harmless. */
static void hx_emit_message(j_common_ptr cinfo, int level) {
  struct hx_error_mgr *err = (struct hx_error_mgr *)cinfo->err;
  if (level < 0) {
    switch (cinfo->err->msg_code) {
      case JWRN_JPEG_EOF:
      case JWRN_HIT_MARKER:
      case JWRN_HUFF_BAD_CODE:
      case JWRN_MUST_RESYNC:
      case JWRN_BOGUS_PROGRESSION:
      case JWRN_ARITH_BAD_CODE:
        (*cinfo->err->format_message)(cinfo, err->message);
        longjmp(err->escape, 1);
      default:
        cinfo->err->num_warnings++;
    }
  }
}

static void hx_output_message(j_common_ptr cinfo) {}

/* The error manager both entry points install; the setjmp itself must stay in the caller's frame. */
static struct jpeg_error_mgr *hx_error_init(struct hx_error_mgr *jerr) {
  struct jpeg_error_mgr *pub = jpeg_std_error(&jerr->pub);
  pub->error_exit = hx_error_exit;
  pub->emit_message = hx_emit_message;
  pub->output_message = hx_output_message;
  jerr->message[0] = 0;
  return pub;
}

static napi_value throw_error(napi_env env, const char *code, const char *message) {
  napi_throw_error(env, code, message);
  return NULL;
}

static int get_bytes(napi_env env, napi_value value, unsigned char **data, size_t *length) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  if (is_typed) {
    napi_typedarray_type type;
    size_t count;
    void *ptr;
    napi_value ab;
    size_t byte_offset;
    if (napi_get_typedarray_info(env, value, &type, &count, &ptr, &ab, &byte_offset) != napi_ok) return 0;
    if (type != napi_uint8_array) return 0;
    *data = (unsigned char *)ptr;
    *length = count;
    return 1;
  }
  return 0;
}

static void set_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_value n;
  napi_create_int64(env, v, &n);
  napi_set_named_property(env, obj, name, n);
}

/* Adobe CMYK as stored (inverted: 255 is no ink) to RGB, R = C x K / 255 and so on: the conversion OpenCV applies,
 * without a colour profile (frames are analysed, not printed; libvips' profile-based conversion needs lcms). */
static void cmyk_to_rgb(const unsigned char *cmyk, unsigned char *rgb, size_t width) {
  for (size_t x = 0; x < width; x++, cmyk += 4, rgb += 3) {
    unsigned k = cmyk[3];
    rgb[0] = (unsigned char)((cmyk[0] * k + 127) / 255);
    rgb[1] = (unsigned char)((cmyk[1] * k + 127) / 255);
    rgb[2] = (unsigned char)((cmyk[2] * k + 127) / 255);
  }
}

/*
 * decode(bytes, scaleDenom, gray, fast, maxPixels) -> { width, height, channels, data }
 *   scaleDenom: 1, 2, 4 or 8 (output is ceil(size / denom)).
 *   gray: output the luma plane only (1 channel); otherwise RGB (3 channels; a greyscale JPEG stays 1 channel, a
 *     CMYK/YCCK one is always RGB).
 *   fast: integer fast IDCT and box (non-"fancy") chroma upsampling, for processors that only aggregate pixels.
 *   maxPixels: refuse a frame header declaring more pixels (the caller's probe already checked the first SOF; a
 *     crafted file could declare another), before any pixel memory is allocated. 0 = no limit.
 */
static napi_value decode(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  unsigned char *data;
  size_t length;
  if (argc < 1 || !get_bytes(env, argv[0], &data, &length)) return throw_error(env, "ERR_INVALID_ARG", "bytes must be a Uint8Array");
  int32_t denom = 1;
  bool gray = false, fast = false;
  if (argc > 1) napi_get_value_int32(env, argv[1], &denom);
  if (argc > 2) napi_get_value_bool(env, argv[2], &gray);
  if (argc > 3) napi_get_value_bool(env, argv[3], &fast);
  double max_pixels = 0;
  if (argc > 4) napi_get_value_double(env, argv[4], &max_pixels);
  if (denom != 1 && denom != 2 && denom != 4 && denom != 8) return throw_error(env, "ERR_INVALID_ARG", "scaleDenom must be 1, 2, 4 or 8");
  if (length == 0) return throw_error(env, "HX_JPEG_CORRUPT", "empty input");

  struct jpeg_decompress_struct cinfo;
  struct hx_error_mgr jerr;
  /* Written between setjmp and a possible longjmp: volatile so the handler sees the current value. */
  napi_value volatile result = NULL;
  cinfo.err = hx_error_init(&jerr);
  if (setjmp(jerr.escape)) {
    jpeg_destroy_decompress(&cinfo);
    return throw_error(env, "HX_JPEG_CORRUPT", jerr.message);
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)length);
  jpeg_read_header(&cinfo, TRUE);
  if (max_pixels > 0 && (double)cinfo.image_width * (double)cinfo.image_height > max_pixels) {
    snprintf(jerr.message, sizeof jerr.message, "the frame header declares %ux%u pixels, more than the %.0f allowed",
             (unsigned)cinfo.image_width, (unsigned)cinfo.image_height, max_pixels);
    jpeg_destroy_decompress(&cinfo);
    return throw_error(env, "HX_JPEG_TOO_LARGE", jerr.message);
  }
  J_COLOR_SPACE in = cinfo.jpeg_color_space;
  const bool cmyk = in == JCS_CMYK || in == JCS_YCCK;
  if (in != JCS_GRAYSCALE && in != JCS_YCbCr && in != JCS_RGB && !cmyk) {
    snprintf(jerr.message, sizeof jerr.message, "%d colour components in an unknown colour space",
             cinfo.num_components);
    jpeg_destroy_decompress(&cinfo);
    return throw_error(env, "HX_JPEG_CORRUPT", jerr.message);
  }
  cinfo.out_color_space = cmyk ? JCS_CMYK : (gray || in == JCS_GRAYSCALE) ? JCS_GRAYSCALE : JCS_RGB;
  cinfo.scale_num = 1;
  cinfo.scale_denom = (unsigned int)denom;
  if (fast) {
    cinfo.dct_method = JDCT_IFAST;
    cinfo.do_fancy_upsampling = FALSE;
  }
  jpeg_start_decompress(&cinfo);
  const size_t width = cinfo.output_width, height = cinfo.output_height;
  const size_t channels = cmyk ? 3 : cinfo.output_components;
  const size_t stride = width * channels;
  void *out = NULL;
  napi_value buffer;
  if (napi_create_buffer(env, stride * height, &out, &buffer) != napi_ok) {
    jpeg_destroy_decompress(&cinfo);
    return throw_error(env, "ERR_MEMORY", "could not allocate the output buffer");
  }
  result = buffer;
  /* CMYK rows land in a scratch array from libjpeg's image pool (freed by jpeg_destroy, also after an error). */
  JSAMPARRAY scratch =
      cmyk ? (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE, (JDIMENSION)(width * 4), 16) : NULL;
  JSAMPROW rows[16];
  while (cinfo.output_scanline < cinfo.output_height) {
    JDIMENSION n = cinfo.rec_outbuf_height < 16 ? cinfo.rec_outbuf_height : 16;
    const size_t first = cinfo.output_scanline;
    for (JDIMENSION i = 0; i < n; i++) {
      size_t y = first + i;
      if (y >= height) y = height - 1;
      rows[i] = cmyk ? scratch[i] : (JSAMPROW)((unsigned char *)out + y * stride);
    }
    JDIMENSION got = jpeg_read_scanlines(&cinfo, rows, n);
    if (cmyk) {
      for (JDIMENSION i = 0; i < got; i++) cmyk_to_rgb(scratch[i], (unsigned char *)out + (first + i) * stride, width);
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  napi_value obj;
  napi_create_object(env, &obj);
  set_int(env, obj, "width", (int64_t)width);
  set_int(env, obj, "height", (int64_t)height);
  set_int(env, obj, "channels", (int64_t)channels);
  napi_set_named_property(env, obj, "data", result);
  return obj;
}

/*
 * encode(rgb, width, height, stride, quality) -> Buffer
 *   rgb: packed 8-bit RGB rows, `stride` bytes apart (>= width x 3); quality 1-100, 4:2:0 chroma (libjpeg's
 *   defaults, as sharp's). Synchronous for the same reason as decode: annotated answers are encoded on pool workers.
 */
static napi_value encode(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  unsigned char *data;
  size_t length;
  if (argc < 5 || !get_bytes(env, argv[0], &data, &length)) return throw_error(env, "ERR_INVALID_ARG", "rgb must be a Uint8Array");
  int32_t width = 0, height = 0, stride = 0, quality = 0;
  napi_get_value_int32(env, argv[1], &width);
  napi_get_value_int32(env, argv[2], &height);
  napi_get_value_int32(env, argv[3], &stride);
  napi_get_value_int32(env, argv[4], &quality);
  if (width <= 0 || height <= 0 || width > 65500 || height > 65500) return throw_error(env, "ERR_INVALID_ARG", "width and height must be 1-65500");
  if (stride < width * 3) return throw_error(env, "ERR_INVALID_ARG", "stride is shorter than a row");
  if ((size_t)stride * (size_t)(height - 1) + (size_t)width * 3 > length) return throw_error(env, "ERR_INVALID_ARG", "rgb is shorter than its geometry");
  if (quality < 1 || quality > 100) return throw_error(env, "ERR_INVALID_ARG", "quality must be 1-100");

  /* libjpeg-turbo's worst case for 4:2:0 (tjBufSize): the destination never has to grow, and is ours to free
   * whatever happens (a buffer libjpeg grew itself would leak on the error path). */
  const size_t bound = (size_t)((width + 15) & ~15) * (size_t)((height + 15) & ~15) * 3 + 2048;
  unsigned char *const out = malloc(bound);
  if (out == NULL) return throw_error(env, "ERR_MEMORY", "could not allocate the output buffer");
  unsigned char *dest = out;
  unsigned long out_size = bound;
  struct jpeg_compress_struct cinfo;
  struct hx_error_mgr jerr;
  cinfo.err = hx_error_init(&jerr);
  if (setjmp(jerr.escape)) {
    jpeg_destroy_compress(&cinfo);
    free(out);
    return throw_error(env, "HX_JPEG_ENCODE", jerr.message);
  }
  jpeg_create_compress(&cinfo);
  jpeg_mem_dest(&cinfo, &dest, &out_size);
  cinfo.image_width = (JDIMENSION)width;
  cinfo.image_height = (JDIMENSION)height;
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = (JSAMPROW)(data + (size_t)cinfo.next_scanline * (size_t)stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  void *copy = NULL;
  napi_value buffer;
  napi_status status = napi_create_buffer_copy(env, out_size, dest, &copy, &buffer);
  if (dest != out) free(dest);
  free(out);
  if (status != napi_ok) return throw_error(env, "ERR_MEMORY", "could not allocate the output buffer");
  return buffer;
}

/*
 * glibc serves a freed block again instead of returning it, and raises its mmap threshold to the size of the largest
 * block freed (up to 32 MiB): after a few frames near maxPixels every thread's arena keeps them, and the process
 * stays at that high-water mark. A fixed threshold (which also stops the raising) puts every block of at least
 * `bytes` in its own mapping, returned to the system when the frame is released; smaller frames are reused from the
 * arenas as before. Returns false where the C library is not glibc (nothing to tune).
 */
static napi_value set_mmap_threshold(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, cb, &argc, argv, NULL, NULL);
  int64_t bytes = 0;
  bool done = false;
  if (argc == 1 && napi_get_value_int64(env, argv[0], &bytes) == napi_ok && bytes > 0 && bytes <= INT32_MAX) {
#ifdef __GLIBC__
    done = mallopt(M_MMAP_THRESHOLD, (int)bytes) == 1;
#endif
  }
  napi_value result;
  napi_get_boolean(env, done, &result);
  return result;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"decode", NULL, decode, NULL, NULL, NULL, napi_default, NULL},
      {"encode", NULL, encode, NULL, NULL, NULL, napi_default, NULL},
      {"setMmapThreshold", NULL, set_mmap_threshold, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
