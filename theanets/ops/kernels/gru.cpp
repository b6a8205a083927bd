/* The GRU recurrence of theanets.ops.GRUForward and GRUGrad: forward pass
   and back-propagation through time over all time steps, in one call each.

   How this file is used
   ---------------------
   Compiled as C++ by Theano after Theano's BLAS declarations and
   common.cpp, whose helpers (rnn_sigmoid, rnn_activate, rnn_derivative,
   rnn_gemm, RNN_IVDEP, rnn_contiguous, rnn_shapes, rnn_check_dims,
   rnn_prepare_output, rnn_release) it uses; see the comment at the top of common.cpp. There
   are no template placeholders.

   Entry points, called from the c_code() of the Ops (theanets/ops/_gru.py)
   with the Op's input and output arrays in the order of the Op's
   make_node(), and the candidate activation as the template argument ACT
   (RNN_LINEAR, RNN_RELU, RNN_SIGMOID or RNN_TANH of common.cpp, chosen by
   the Op's activation property):

     gru_forward_run<ACT>(in[5], out[5])
         in: xw (T, B, 3n) with column blocks candidate, reset, update;
         b (3n); hh (n, n); hrz (n, 2n) = [hr hz]; h0 (B, n)
         out: pre, hid, rate, out, reset (T, B, n)
     gru_backward_run<ACT>(in[12], out[5])
         in: hh, hrz, h0, pre, hid, rate, out, reset, gpre, ghid, grate,
         gout
         out: dxw (T, B, 3n), db (3n), dhh (n, n), dhrz (n, 2n), dh0 (B, n)

   Output arrays are reused when Theano passes ones of the right shape and
   type, otherwise (re)allocated. All arrays are row-major (C order). */

/* Gates of one row: u holds h_prev . [hr hz]; writes r, z and r * h_prev. */
template <typename T>
static inline void gru_cell_gates(
    int n, const T* __restrict a, const T* __restrict bias,
    const T* __restrict u, const T* __restrict h_prev, T* __restrict reset,
    T* __restrict rate, T* __restrict rh)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T r = rnn_sigmoid((a[n + j] + bias[n + j]) + u[j]);
        T z = rnn_sigmoid((a[2 * n + j] + bias[2 * n + j]) + u[n + j]);
        reset[j] = r;
        rate[j] = z;
        rh[j] = r * h_prev[j];
    }
}

/* Output of one row: pre holds (r * h_prev) . hh on entry. */
template <typename T, int ACT>
static inline void gru_cell_output(
    int n, const T* __restrict a, const T* __restrict bias,
    const T* __restrict h_prev, const T* __restrict rate, T* __restrict pre,
    T* __restrict hid, T* __restrict out)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T p = (a[j] + bias[j]) + pre[j];
        T g = rnn_activate<T, ACT>(p);
        T z = rate[j];
        pre[j] = p;
        hid[j] = g;
        out[j] = (1 - z) * h_prev[j] + z * g;
    }
}

/* Row-major arrays: a (T, B, 3n) with blocks h, r, z; bias (3n); hh (n, n);
   hrz (n, 2n) = [hr hz]; h0 (B, n); outputs pre, hid, rate, out, reset
   (T, B, n); u (B * 2n) and rh (B * n) are scratch. */
template <typename T, int ACT>
static void gru_forward(int steps, int batch, int n, const T* a,
                        const T* bias, const T* hh, const T* hrz,
                        const T* h0, T* pre, T* hid, T* rate, T* out,
                        T* reset, T* u, T* rh)
{
    const long g3 = 3L * n, sz = (long)batch * n;
    for (int t = 0; t < steps; t++) {
        const T* h_prev = t ? out + (t - 1) * sz : h0;
        const T* a_t = a + t * (long)batch * g3;
        const long o = t * sz;
        /* u = h_prev . hrz, i.e. u^T = hrz^T h_prev^T in column-major */
        rnn_gemm('N', 'N', 2 * n, batch, n, (T)1, hrz, 2 * n, h_prev, n,
                 (T)0, u, 2 * n);
        for (int b = 0; b < batch; b++)
            gru_cell_gates<T>(n, a_t + b * g3, bias, u + 2L * b * n,
                              h_prev + b * n, reset + o + b * n,
                              rate + o + b * n, rh + b * n);
        rnn_gemm('N', 'N', n, batch, n, (T)1, hh, n, rh, n, (T)0, pre + o, n);
        for (int b = 0; b < batch; b++)
            gru_cell_output<T, ACT>(n, a_t + b * g3, bias, h_prev + b * n,
                                    rate + o + b * n, pre + o + b * n,
                                    hid + o + b * n, out + o + b * n);
    }
}

/* First half of one row of a backward step: from the gradient dh reaching
   h_t from step t + 1 and the cost gradients, the gradients of the
   candidate's and the update gate's pre-activations (blocks h, z of da);
   dh becomes the part of the gradient of h_{t-1} through (1 - z) h_{t-1}.
   Also saves r * h_prev for the gradient of hh. */
template <typename T, int ACT>
static inline void gru_cell_backward_a(
    int n, const T* __restrict pre, const T* __restrict hid,
    const T* __restrict rate, const T* __restrict reset,
    const T* __restrict h_prev, const T* __restrict gpre,
    const T* __restrict ghid, const T* __restrict grate,
    const T* __restrict gout, T* __restrict dh, T* __restrict da,
    T* __restrict rh)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T hp = h_prev[j], z = rate[j];
        T dh_t = gout[j] + dh[j];
        T dz = dh_t * (hid[j] - hp) + grate[j];
        T dhid = dh_t * z + ghid[j];
        da[j] = dhid * rnn_derivative<T, ACT>(pre[j], hid[j]) + gpre[j];
        da[2 * n + j] = dz * z * (1 - z);
        dh[j] = dh_t * (1 - z);
        rh[j] = reset[j] * hp;
    }
}

/* Second half: drh is the gradient of r * h_prev; adds its share to dh,
   writes the reset gate's block of da and sums da over the batch. */
template <typename T>
static inline void gru_cell_backward_b(
    int n, const T* __restrict reset, const T* __restrict h_prev,
    const T* __restrict drh, T* __restrict dh, T* __restrict da,
    T* __restrict db)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T r = reset[j], d = drh[j];
        T dar = d * h_prev[j] * r * (1 - r);
        da[n + j] = dar;
        dh[j] += d * r;
        db[j] += da[j];
        db[n + j] += dar;
        db[2 * n + j] += da[2 * n + j];
    }
}

/* dh0 carries the running gradient of h_t. rh (T * B * n) and drh (B * n)
   are scratch; the bias gradient is summed over the batch in step (3n
   values of type T), then over time in total (3n doubles). */
template <typename T, int ACT>
static void gru_backward(int steps, int batch, int n, const T* hh,
                         const T* hrz, const T* h0, const T* pre,
                         const T* hid, const T* rate, const T* out,
                         const T* reset, const T* gpre, const T* ghid,
                         const T* grate, const T* gout, T* da, T* db,
                         T* dhh, T* dhrz, T* dh0, T* rh, T* drh, T* step,
                         double* total)
{
    const long g3 = 3L * n, sz = (long)batch * n;
    for (int j = 0; j < 3 * n; j++) total[j] = 0;
    for (long k = 0; k < sz; k++) dh0[k] = 0;
    for (int t = steps - 1; t >= 0; t--) {
        const T* h_prev = t ? out + (t - 1) * sz : h0;
        const long o = t * sz;
        T* da_t = da + t * (long)batch * g3;
        for (int b = 0; b < batch; b++)
            gru_cell_backward_a<T, ACT>(
                n, pre + o + b * n, hid + o + b * n, rate + o + b * n,
                reset + o + b * n, h_prev + b * n, gpre + o + b * n,
                ghid + o + b * n, grate + o + b * n, gout + o + b * n,
                dh0 + b * n, da_t + b * g3, rh + o + b * n);
        /* drh = dpre . hh^T, i.e. drh^T = hh dpre^T in column-major */
        rnn_gemm('T', 'N', n, batch, n, (T)1, hh, n, da_t, 3 * n, (T)0,
                 drh, n);
        for (int j = 0; j < 3 * n; j++) step[j] = 0;
        for (int b = 0; b < batch; b++)
            gru_cell_backward_b<T>(n, reset + o + b * n, h_prev + b * n,
                                   drh + b * n, dh0 + b * n, da_t + b * g3,
                                   step);
        for (int j = 0; j < 3 * n; j++) total[j] += step[j];
        /* dh_prev += [dar daz] . hrz^T */
        rnn_gemm('T', 'N', n, batch, 2 * n, (T)1, hrz, 2 * n, da_t + n,
                 3 * n, (T)1, dh0, n);
    }
    for (int j = 0; j < 3 * n; j++) db[j] = (T)total[j];
    if (steps <= 0) {
        for (long k = 0; k < (long)n * n; k++) dhh[k] = 0;
        for (long k = 0; k < 2L * n * n; k++) dhrz[k] = 0;
        return;
    }
    /* dhh = rh^T . dpre over all steps; dhrz = [h0; h_0 .. h_{T-2}]^T .
       [dar daz] */
    rnn_gemm('N', 'T', n, n, steps * batch, (T)1, da, 3 * n, rh, n, (T)0,
             dhh, n);
    rnn_gemm('N', 'T', 2 * n, n, batch, (T)1, da + n, 3 * n, h0, n, (T)0,
             dhrz, 2 * n);
    rnn_gemm('N', 'T', 2 * n, n, (steps - 1) * batch, (T)1,
             da + batch * g3 + n, 3 * n, out, n, (T)1, dhrz, 2 * n);
}

template <int ACT>
static int gru_forward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: xw b hh hrz h0; out: pre hid rate out reset */
    static const char* const names[5] = {"xw", "b", "hh", "hrz", "h0"};
    static const int ndims[5] = {3, 1, 2, 2, 2};
    PyArrayObject* x[5];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("GRU", 5, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("GRU", x[2], x[4], PyArray_DIMS(x[0])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_a[3] = {steps, batch, 3 * n}, d_b[1] = {3 * n};
        npy_intp d_hh[2] = {n, n}, d_hrz[2] = {n, 2 * n};
        npy_intp d_s[2] = {batch, n}, d_out[3] = {steps, batch, n};
        if (rnn_check_dims("GRU", x[0], "xw", 3, d_a)
                || rnn_check_dims("GRU", x[1], "b", 1, d_b)
                || rnn_check_dims("GRU", x[2], "hh", 2, d_hh)
                || rnn_check_dims("GRU", x[3], "hrz", 2, d_hrz)
                || rnn_check_dims("GRU", x[4], "h0", 2, d_s))
            goto done;
        for (int k = 0; k < 5; k++)
            if (rnn_prepare_output(&out[k], 3, d_out, typenum)) goto done;
    }
    scratch = malloc((batch * 3 * n + 1) * PyArray_ITEMSIZE(x[0]));
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define GRU_FORWARD_CALL(T) gru_forward<T, ACT>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), (T*)PyArray_DATA(out[3]), \
        (T*)PyArray_DATA(out[4]), (T*)scratch, \
        (T*)scratch + 2 * batch * n)
    if (typenum == NPY_FLOAT32) GRU_FORWARD_CALL(float);
    else GRU_FORWARD_CALL(double);
#undef GRU_FORWARD_CALL
    ret = 0;
done:
    free(scratch);
    rnn_release(5, x);
    return ret;
}

template <int ACT>
static int gru_backward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: hh hrz h0 pre hid rate out reset gpre ghid grate gout;
       out: dxw db dhh dhrz dh0 */
    static const char* const names[12] = {
        "hh", "hrz", "h0", "pre", "hid", "rate", "out", "reset", "gpre",
        "ghid", "grate", "gout"};
    static const int ndims[12] = {2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3};
    PyArrayObject* x[12];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("GRU", 12, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("GRU", x[0], x[2], PyArray_DIMS(x[3])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_hh[2] = {n, n}, d_hrz[2] = {n, 2 * n};
        npy_intp d_s[2] = {batch, n}, d_seq[3] = {steps, batch, n};
        npy_intp d_a[3] = {steps, batch, 3 * n}, d_b[1] = {3 * n};
        if (rnn_check_dims("GRU", x[0], "hh", 2, d_hh)
                || rnn_check_dims("GRU", x[1], "hrz", 2, d_hrz)
                || rnn_check_dims("GRU", x[2], "h0", 2, d_s))
            goto done;
        for (int k = 3; k < 12; k++)
            if (rnn_check_dims("GRU", x[k], names[k], 3, d_seq)) goto done;
        if (rnn_prepare_output(&out[0], 3, d_a, typenum)
                || rnn_prepare_output(&out[1], 1, d_b, typenum)
                || rnn_prepare_output(&out[2], 2, d_hh, typenum)
                || rnn_prepare_output(&out[3], 2, d_hrz, typenum)
                || rnn_prepare_output(&out[4], 2, d_s, typenum))
            goto done;
    }
    /* 3n doubles, then rh (T B n), drh (B n) and 3n values of type T */
    scratch = malloc(3 * n * sizeof(double) + ((steps + 1) * batch * n
                     + 3 * n + 1) * PyArray_ITEMSIZE(x[0]));
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define GRU_BACKWARD_CALL(T) gru_backward<T, ACT>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (const T*)PyArray_DATA(x[5]), (const T*)PyArray_DATA(x[6]), \
        (const T*)PyArray_DATA(x[7]), (const T*)PyArray_DATA(x[8]), \
        (const T*)PyArray_DATA(x[9]), (const T*)PyArray_DATA(x[10]), \
        (const T*)PyArray_DATA(x[11]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), (T*)PyArray_DATA(out[3]), \
        (T*)PyArray_DATA(out[4]), rh_##T, rh_##T + steps * batch * n, \
        rh_##T + (steps + 1) * batch * n, (double*)scratch)
    if (typenum == NPY_FLOAT32) {
        float* rh_float = (float*)((double*)scratch + 3 * n);
        GRU_BACKWARD_CALL(float);
    } else {
        double* rh_double = (double*)scratch + 3 * n;
        GRU_BACKWARD_CALL(double);
    }
#undef GRU_BACKWARD_CALL
    ret = 0;
done:
    free(scratch);
    rnn_release(12, x);
    return ret;
}
