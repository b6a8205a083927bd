/* The LSTM recurrence of theanets.ops.LSTMForward and LSTMGrad: forward
   pass and back-propagation through time over all time steps, in one call
   each.

   How this file is used
   ---------------------
   Compiled as C++ by Theano after Theano's BLAS declarations and
   common.cpp, whose helpers (rnn_sigmoid, rnn_tanh, rnn_gemm, RNN_IVDEP,
   rnn_contiguous, rnn_shapes, rnn_check_dims, rnn_prepare_output,
   rnn_release) it uses; see the comment at the top of common.cpp. There
   are no template placeholders.

   Entry points, called from the c_code() of the Ops (theanets/ops/_lstm.py)
   with the Op's input and output arrays in the order of the Op's
   make_node():

     lstm_forward_run(in[8], out[3])
         in: xw (T, B, 4n), b (4n), hh (n, 4n), ci, cf, co (n), h0, c0 (B, n)
         out: h, c (T, B, n); act (T, B, 5n), blocks i, f, tanh(z_c), o,
         tanh(c_t)
     lstm_backward_run(in[11], out[8])
         in: hh, ci, cf, co, h0, c0, h, c, act, gh, gc
         out: dxw (T, B, 4n), db, dhh, dci, dcf, dco, dh0, dc0

   Output arrays are reused when Theano passes ones of the right shape and
   type, otherwise (re)allocated. All arrays are row-major (C order);
   the gemm calls below describe the same memory as column-major
   transposes, which is what the Fortran BLAS expects. */

/* One row of one time step of the forward pass. */
template <typename T>
static inline void lstm_cell_forward(
    int n, const T* __restrict a, const T* __restrict bias,
    const T* __restrict z, const T* __restrict c_prev,
    const T* __restrict ci, const T* __restrict cf, const T* __restrict co,
    T* __restrict h, T* __restrict c, T* __restrict act)
{
    const int n2 = 2 * n, n3 = 3 * n;
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T cp = c_prev[j];
        T i = rnn_sigmoid((a[j] + bias[j]) + z[j] + cp * ci[j]);
        T f = rnn_sigmoid((a[n + j] + bias[n + j]) + z[n + j] + cp * cf[j]);
        T g = rnn_tanh((a[n2 + j] + bias[n2 + j]) + z[n2 + j]);
        T cn = f * cp + i * g;
        T o = rnn_sigmoid((a[n3 + j] + bias[n3 + j]) + z[n3 + j]
                           + cn * co[j]);
        T tc = rnn_tanh(cn);
        c[j] = cn;
        h[j] = o * tc;
        act[j] = i;
        act[n + j] = f;
        act[2 * n + j] = g;
        act[3 * n + j] = o;
        act[4 * n + j] = tc;
    }
}

/* Row-major arrays: a (T, B, 4n), bias (4n), hh (n, 4n), h0, c0 (B, n);
   outputs h, c (T, B, n), act (T, B, 5n); z is scratch for B * 4n values. */
template <typename T>
static void lstm_forward(int steps, int batch, int n, const T* a,
                         const T* bias, const T* hh, const T* ci,
                         const T* cf, const T* co,
                         const T* h0, const T* c0, T* h, T* c, T* act, T* z)
{
    const long g4 = 4L * n, g5 = 5L * n, sz = (long)batch * n;
    for (int t = 0; t < steps; t++) {
        const T* h_prev = t ? h + (t - 1) * sz : h0;
        const T* c_prev = t ? c + (t - 1) * sz : c0;
        /* z = h_prev . hh, i.e. z^T = hh^T h_prev^T in column-major */
        rnn_gemm('N', 'N', 4 * n, batch, n, (T)1, hh, 4 * n, h_prev, n,
                  (T)0, z, 4 * n);
        for (int b = 0; b < batch; b++)
            lstm_cell_forward<T>(
                n, a + (t * (long)batch + b) * g4, bias, z + b * g4,
                c_prev + b * n, ci, cf, co, h + t * sz + b * n,
                c + t * sz + b * n, act + (t * (long)batch + b) * g5);
    }
}

/* One row of one time step of the backward pass: dh, dc hold the
   gradients reaching h_t, c_t from step t + 1; dc becomes the gradient
   for c_{t-1}. */
template <typename T>
static inline void lstm_cell_backward(
    int n, const T* __restrict act, const T* __restrict c_prev,
    const T* __restrict c_t, const T* __restrict gh, const T* __restrict gc,
    const T* __restrict dh, T* __restrict dc, const T* __restrict ci,
    const T* __restrict cf, const T* __restrict co, T* __restrict dz,
    T* __restrict db, T* __restrict dci, T* __restrict dcf,
    T* __restrict dco)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T i = act[j], f = act[n + j], g = act[2 * n + j];
        T o = act[3 * n + j], tc = act[4 * n + j];
        T cp = c_prev[j];
        T dh_t = gh[j] + dh[j];
        T dzo = dh_t * tc * o * (1 - o);
        T dc_t = gc[j] + dc[j] + dh_t * o * (1 - tc * tc) + dzo * co[j];
        T dzi = dc_t * g * i * (1 - i);
        T dzf = dc_t * cp * f * (1 - f);
        T dzc = dc_t * i * (1 - g * g);
        dc[j] = dc_t * f + dzi * ci[j] + dzf * cf[j];
        dco[j] += dzo * c_t[j];
        dci[j] += dzi * cp;
        dcf[j] += dzf * cp;
        dz[j] = dzi;
        dz[n + j] = dzf;
        dz[2 * n + j] = dzc;
        dz[3 * n + j] = dzo;
        db[j] += dzi;
        db[n + j] += dzf;
        db[2 * n + j] += dzc;
        db[3 * n + j] += dzo;
    }
}

/* dh0 and dc0 carry the running gradients of h_t and c_t. The gradients
   of the vectors (b, ci, cf, co; 7n values) are summed over the batch in
   step (scratch for 7n values of type T), then over time in total (7n
   doubles). */
template <typename T>
static void lstm_backward(int steps, int batch, int n, const T* hh,
                          const T* ci, const T* cf, const T* co, const T* h0,
                          const T* c0, const T* h, const T* c, const T* act,
                          const T* gh, const T* gc, T* da, T* db, T* dhh,
                          T* dci, T* dcf, T* dco, T* dh0, T* dc0, T* step,
                          double* total)
{
    const long g4 = 4L * n, g5 = 5L * n, sz = (long)batch * n;
    for (int j = 0; j < 7 * n; j++) total[j] = 0;
    for (long k = 0; k < sz; k++) dh0[k] = dc0[k] = 0;
    for (int t = steps - 1; t >= 0; t--) {
        const T* c_prev = t ? c + (t - 1) * sz : c0;
        T* da_t = da + t * (long)batch * g4;
        for (int j = 0; j < 7 * n; j++) step[j] = 0;
        for (int b = 0; b < batch; b++)
            lstm_cell_backward<T>(
                n, act + (t * (long)batch + b) * g5, c_prev + b * n,
                c + t * sz + b * n, gh + t * sz + b * n, gc + t * sz + b * n,
                dh0 + b * n, dc0 + b * n, ci, cf, co, da_t + b * g4,
                step, step + 4 * n, step + 5 * n, step + 6 * n);
        for (int j = 0; j < 7 * n; j++) total[j] += step[j];
        /* dh_prev = dz . hh^T, i.e. dh_prev^T = hh dz^T in column-major */
        rnn_gemm('T', 'N', n, batch, 4 * n, (T)1, hh, 4 * n, da_t, 4 * n,
                  (T)0, dh0, n);
    }
    for (int j = 0; j < 4 * n; j++) db[j] = (T)total[j];
    for (int j = 0; j < n; j++) {
        dci[j] = (T)total[4 * n + j];
        dcf[j] = (T)total[5 * n + j];
        dco[j] = (T)total[6 * n + j];
    }
    /* dhh = [h0; h_0 .. h_{T-2}]^T . da, i.e. dhh^T = da^T [h0; ...] */
    if (steps <= 0) {
        for (long k = 0; k < 4L * n * n; k++) dhh[k] = 0;
        return;
    }
    rnn_gemm('N', 'T', 4 * n, n, batch, (T)1, da, 4 * n, h0, n, (T)0,
              dhh, 4 * n);
    rnn_gemm('N', 'T', 4 * n, n, (steps - 1) * batch, (T)1, da + batch * g4,
              4 * n, h, n, (T)1, dhh, 4 * n);
}

static int lstm_forward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: xw b hh ci cf co h0 c0; out: h c act */
    static const char* const names[8] = {
        "xw", "b", "hh", "ci", "cf", "co", "h0", "c0"};
    static const int ndims[8] = {3, 1, 2, 1, 1, 1, 2, 2};
    PyArrayObject* x[8];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("LSTM", 8, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("LSTM", x[2], x[6], PyArray_DIMS(x[0])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_a[3] = {steps, batch, 4 * n}, d_hh[2] = {n, 4 * n};
        npy_intp d_v[1] = {n}, d_s[2] = {batch, n}, d_b[1] = {4 * n};
        npy_intp d_out[3] = {steps, batch, n};
        npy_intp d_act[3] = {steps, batch, 5 * n};
        if (rnn_check_dims("LSTM", x[0], "xw", 3, d_a)
                || rnn_check_dims("LSTM", x[1], "b", 1, d_b)
                || rnn_check_dims("LSTM", x[2], "hh", 2, d_hh)
                || rnn_check_dims("LSTM", x[3], "ci", 1, d_v)
                || rnn_check_dims("LSTM", x[4], "cf", 1, d_v)
                || rnn_check_dims("LSTM", x[5], "co", 1, d_v)
                || rnn_check_dims("LSTM", x[6], "h0", 2, d_s)
                || rnn_check_dims("LSTM", x[7], "c0", 2, d_s))
            goto done;
        if (rnn_prepare_output(&out[0], 3, d_out, typenum)
                || rnn_prepare_output(&out[1], 3, d_out, typenum)
                || rnn_prepare_output(&out[2], 3, d_act, typenum))
            goto done;
    }
    scratch = malloc((batch * 4 * n + 1) * PyArray_ITEMSIZE(x[0]));
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define LSTM_FORWARD_CALL(T) lstm_forward<T>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (const T*)PyArray_DATA(x[5]), (const T*)PyArray_DATA(x[6]), \
        (const T*)PyArray_DATA(x[7]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), \
        (T*)scratch)
    if (typenum == NPY_FLOAT32) LSTM_FORWARD_CALL(float);
    else LSTM_FORWARD_CALL(double);
#undef LSTM_FORWARD_CALL
    ret = 0;
done:
    free(scratch);
    rnn_release(8, x);
    return ret;
}

static int lstm_backward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: hh ci cf co h0 c0 h c act gh gc;
       out: dxw db dhh dci dcf dco dh0 dc0 */
    static const char* const names[11] = {
        "hh", "ci", "cf", "co", "h0", "c0", "h", "c", "act", "gh", "gc"};
    static const int ndims[11] = {2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3};
    PyArrayObject* x[11];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("LSTM", 11, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("LSTM", x[0], x[4], PyArray_DIMS(x[6])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_hh[2] = {n, 4 * n}, d_v[1] = {n}, d_s[2] = {batch, n};
        npy_intp d_seq[3] = {steps, batch, n};
        npy_intp d_act[3] = {steps, batch, 5 * n};
        npy_intp d_a[3] = {steps, batch, 4 * n}, d_b[1] = {4 * n};
        if (rnn_check_dims("LSTM", x[0], "hh", 2, d_hh)
                || rnn_check_dims("LSTM", x[1], "ci", 1, d_v)
                || rnn_check_dims("LSTM", x[2], "cf", 1, d_v)
                || rnn_check_dims("LSTM", x[3], "co", 1, d_v)
                || rnn_check_dims("LSTM", x[4], "h0", 2, d_s)
                || rnn_check_dims("LSTM", x[5], "c0", 2, d_s)
                || rnn_check_dims("LSTM", x[6], "h", 3, d_seq)
                || rnn_check_dims("LSTM", x[7], "c", 3, d_seq)
                || rnn_check_dims("LSTM", x[8], "act", 3, d_act)
                || rnn_check_dims("LSTM", x[9], "gh", 3, d_seq)
                || rnn_check_dims("LSTM", x[10], "gc", 3, d_seq))
            goto done;
        if (rnn_prepare_output(&out[0], 3, d_a, typenum)
                || rnn_prepare_output(&out[1], 1, d_b, typenum)
                || rnn_prepare_output(&out[2], 2, d_hh, typenum)
                || rnn_prepare_output(&out[3], 1, d_v, typenum)
                || rnn_prepare_output(&out[4], 1, d_v, typenum)
                || rnn_prepare_output(&out[5], 1, d_v, typenum)
                || rnn_prepare_output(&out[6], 2, d_s, typenum)
                || rnn_prepare_output(&out[7], 2, d_s, typenum))
            goto done;
    }
    scratch = malloc(7 * n * (sizeof(double) + PyArray_ITEMSIZE(x[0])) + 8);
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define LSTM_BACKWARD_CALL(T) lstm_backward<T>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (const T*)PyArray_DATA(x[5]), (const T*)PyArray_DATA(x[6]), \
        (const T*)PyArray_DATA(x[7]), (const T*)PyArray_DATA(x[8]), \
        (const T*)PyArray_DATA(x[9]), (const T*)PyArray_DATA(x[10]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), (T*)PyArray_DATA(out[3]), \
        (T*)PyArray_DATA(out[4]), (T*)PyArray_DATA(out[5]), \
        (T*)PyArray_DATA(out[6]), (T*)PyArray_DATA(out[7]), \
        (T*)((double*)scratch + 7 * n), (double*)scratch)
    if (typenum == NPY_FLOAT32) LSTM_BACKWARD_CALL(float);
    else LSTM_BACKWARD_CALL(double);
#undef LSTM_BACKWARD_CALL
    ret = 0;
done:
    free(scratch);
    rnn_release(11, x);
    return ret;
}
