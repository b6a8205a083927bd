/* The plain RNN recurrence of theanets.ops.RNNForward and RNNGrad: forward
   pass and back-propagation through time over all time steps, in one call
   each.

   How this file is used
   ---------------------
   Compiled as C++ by Theano after Theano's BLAS declarations and
   common.cpp, whose helpers (rnn_activate, rnn_derivative, rnn_gemm,
   RNN_IVDEP, rnn_contiguous, rnn_shapes, rnn_check_dims,
   rnn_prepare_output, rnn_release) it uses; see the comment at the top of
   common.cpp. There are no template placeholders.

   Entry points, called from the c_code() of the Ops (theanets/ops/_rnn.py)
   with the Op's input and output arrays in the order of the Op's
   make_node(), and the activation as the template argument ACT
   (RNN_LINEAR, RNN_RELU, RNN_SIGMOID or RNN_TANH of common.cpp, chosen by
   the Op's activation property):

     rnn_forward_run<ACT>(in[4], out[2])
         in: xw (T, B, n), b (n), hh (n, n), h0 (B, n)
         out: pre, out (T, B, n)
     rnn_backward_run<ACT>(in[6], out[4])
         in: hh, h0, pre, out, gpre, gout
         out: dxw (T, B, n), db (n), dhh (n, n), dh0 (B, n)

   Output arrays are reused when Theano passes ones of the right shape and
   type, otherwise (re)allocated. All arrays are row-major (C order); the
   gemm calls describe the same memory as column-major transposes, which
   is what the Fortran BLAS expects. */

/* One row of one forward step: pre holds h_prev . hh on entry. */
template <typename T, int ACT>
static inline void rnn_cell_forward(int n, const T* __restrict a,
                                    const T* __restrict bias,
                                    T* __restrict pre, T* __restrict out)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T p = (a[j] + bias[j]) + pre[j];
        pre[j] = p;
        out[j] = rnn_activate<T, ACT>(p);
    }
}

/* Row-major arrays: a (T, B, n), bias (n), hh (n, n), h0 (B, n); outputs
   pre, out (T, B, n). */
template <typename T, int ACT>
static void rnn_forward(int steps, int batch, int n, const T* a,
                        const T* bias, const T* hh, const T* h0, T* pre,
                        T* out)
{
    const long sz = (long)batch * n;
    for (int t = 0; t < steps; t++) {
        const T* h_prev = t ? out + (t - 1) * sz : h0;
        const long o = t * sz;
        /* pre_t = h_prev . hh, i.e. pre_t^T = hh^T h_prev^T in
           column-major */
        rnn_gemm('N', 'N', n, batch, n, (T)1, hh, n, h_prev, n, (T)0,
                 pre + o, n);
        for (int b = 0; b < batch; b++)
            rnn_cell_forward<T, ACT>(n, a + o + b * n, bias,
                                     pre + o + b * n, out + o + b * n);
    }
}

/* One row of one backward step: dh holds the gradient reaching h_t from
   step t + 1; writes the gradient of the pre-activation and adds it to the
   batch sum db. */
template <typename T, int ACT>
static inline void rnn_cell_backward(
    int n, const T* __restrict pre, const T* __restrict out,
    const T* __restrict gpre, const T* __restrict gout,
    const T* __restrict dh, T* __restrict da, T* __restrict db)
{
    RNN_IVDEP
    for (int j = 0; j < n; j++) {
        T d = (gout[j] + dh[j]) * rnn_derivative<T, ACT>(pre[j], out[j])
              + gpre[j];
        da[j] = d;
        db[j] += d;
    }
}

/* dh0 carries the running gradient of h_t. The bias gradient is summed
   over the batch in step (n values of type T), then over time in total
   (n doubles). */
template <typename T, int ACT>
static void rnn_backward(int steps, int batch, int n, const T* hh,
                         const T* h0, const T* pre, const T* out,
                         const T* gpre, const T* gout, T* da, T* db,
                         T* dhh, T* dh0, T* step, double* total)
{
    const long sz = (long)batch * n;
    for (int j = 0; j < n; j++) total[j] = 0;
    for (long k = 0; k < sz; k++) dh0[k] = 0;
    for (int t = steps - 1; t >= 0; t--) {
        const long o = t * sz;
        for (int j = 0; j < n; j++) step[j] = 0;
        for (int b = 0; b < batch; b++)
            rnn_cell_backward<T, ACT>(
                n, pre + o + b * n, out + o + b * n, gpre + o + b * n,
                gout + o + b * n, dh0 + b * n, da + o + b * n, step);
        for (int j = 0; j < n; j++) total[j] += step[j];
        /* dh_prev = da_t . hh^T, i.e. dh_prev^T = hh da_t^T in
           column-major */
        rnn_gemm('T', 'N', n, batch, n, (T)1, hh, n, da + o, n, (T)0, dh0,
                 n);
    }
    for (int j = 0; j < n; j++) db[j] = (T)total[j];
    if (steps <= 0) {
        for (long k = 0; k < (long)n * n; k++) dhh[k] = 0;
        return;
    }
    /* dhh = [h0; h_0 .. h_{T-2}]^T . da, i.e. dhh^T = da^T [h0; ...] */
    rnn_gemm('N', 'T', n, n, batch, (T)1, da, n, h0, n, (T)0, dhh, n);
    rnn_gemm('N', 'T', n, n, (steps - 1) * batch, (T)1, da + sz, n, out, n,
             (T)1, dhh, n);
}

template <int ACT>
static int rnn_forward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: xw b hh h0; out: pre out */
    static const char* const names[4] = {"xw", "b", "hh", "h0"};
    static const int ndims[4] = {3, 1, 2, 2};
    PyArrayObject* x[4];
    int ret = -1;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("RNN", 4, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("RNN", x[2], x[3], PyArray_DIMS(x[0])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_seq[3] = {steps, batch, n}, d_b[1] = {n};
        npy_intp d_hh[2] = {n, n}, d_s[2] = {batch, n};
        if (rnn_check_dims("RNN", x[0], "xw", 3, d_seq)
                || rnn_check_dims("RNN", x[1], "b", 1, d_b)
                || rnn_check_dims("RNN", x[2], "hh", 2, d_hh)
                || rnn_check_dims("RNN", x[3], "h0", 2, d_s))
            goto done;
        if (rnn_prepare_output(&out[0], 3, d_seq, typenum)
                || rnn_prepare_output(&out[1], 3, d_seq, typenum))
            goto done;
    }
#define RNN_FORWARD_CALL(T) rnn_forward<T, ACT>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (T*)PyArray_DATA(out[0]), \
        (T*)PyArray_DATA(out[1]))
    if (typenum == NPY_FLOAT32) RNN_FORWARD_CALL(float);
    else RNN_FORWARD_CALL(double);
#undef RNN_FORWARD_CALL
    ret = 0;
done:
    rnn_release(4, x);
    return ret;
}

template <int ACT>
static int rnn_backward_run(PyArrayObject** in, PyArrayObject** out)
{
    /* in: hh h0 pre out gpre gout; out: dxw db dhh dh0 */
    static const char* const names[6] = {
        "hh", "h0", "pre", "out", "gpre", "gout"};
    static const int ndims[6] = {2, 2, 3, 3, 3, 3};
    PyArrayObject* x[6];
    int ret = -1;
    void* scratch = NULL;
    npy_intp steps, batch, n;
    int typenum = rnn_contiguous("RNN", 6, in, x, names, ndims);
    if (typenum < 0) goto done;
    if (rnn_shapes("RNN", x[0], x[1], PyArray_DIMS(x[2])[0], &steps,
                   &batch, &n))
        goto done;
    {
        npy_intp d_hh[2] = {n, n}, d_s[2] = {batch, n}, d_b[1] = {n};
        npy_intp d_seq[3] = {steps, batch, n};
        if (rnn_check_dims("RNN", x[0], "hh", 2, d_hh)
                || rnn_check_dims("RNN", x[1], "h0", 2, d_s))
            goto done;
        for (int k = 2; k < 6; k++)
            if (rnn_check_dims("RNN", x[k], names[k], 3, d_seq)) goto done;
        if (rnn_prepare_output(&out[0], 3, d_seq, typenum)
                || rnn_prepare_output(&out[1], 1, d_b, typenum)
                || rnn_prepare_output(&out[2], 2, d_hh, typenum)
                || rnn_prepare_output(&out[3], 2, d_s, typenum))
            goto done;
    }
    /* n doubles, then n values of type T */
    scratch = malloc(n * (sizeof(double) + PyArray_ITEMSIZE(x[0])) + 8);
    if (!scratch) { PyErr_NoMemory(); goto done; }
#define RNN_BACKWARD_CALL(T) rnn_backward<T, ACT>( \
        (int)steps, (int)batch, (int)n, (const T*)PyArray_DATA(x[0]), \
        (const T*)PyArray_DATA(x[1]), (const T*)PyArray_DATA(x[2]), \
        (const T*)PyArray_DATA(x[3]), (const T*)PyArray_DATA(x[4]), \
        (const T*)PyArray_DATA(x[5]), \
        (T*)PyArray_DATA(out[0]), (T*)PyArray_DATA(out[1]), \
        (T*)PyArray_DATA(out[2]), (T*)PyArray_DATA(out[3]), \
        (T*)((double*)scratch + n), (double*)scratch)
    if (typenum == NPY_FLOAT32) RNN_BACKWARD_CALL(float);
    else RNN_BACKWARD_CALL(double);
#undef RNN_BACKWARD_CALL
    ret = 0;
done:
    free(scratch);
    rnn_release(6, x);
    return ret;
}
